#if canImport(Glibc)
import Glibc
#endif
import Logging

/// What one ``NodeStore/evict()`` found and did.
public struct EvictionReport: Sendable, Equatable {
    /// Bytes of `blobs` and `code` before the eviction.
    public var bytesBefore: Int64 = 0
    /// Bytes after it.
    public var bytesAfter: Int64 = 0
    /// Entries removed and their bytes.
    public var removedEntries = 0
    public var removedBytes: Int64 = 0
    /// Bytes of entries left because a run tree links them (removing those frees nothing).
    public var linkedBytes: Int64 = 0
}

extension NodeStore {
    /// When `blobs` and `code` hold more than ``sizeLimit`` bytes, removes the least recently
    /// used entries (oldest ctime first: a hard link or `os.utime` renews it) until they hold at
    /// most ``lowWaterMark``.
    ///
    /// Entries with more than one link are kept: a run tree uses them, and removing the store's
    /// name would free nothing while the tree holds the file. Each entry is looked at again
    /// just before it goes; one used (ctime changed) or linked since is kept. A run host may
    /// write or link entries meanwhile: an entry that appears or vanishes during the walk is
    /// fine, and a host that loses the race for an entry fetches it again.
    ///
    /// Memory: the walk keeps only the oldest entries whose bytes cover what must go (at most
    /// ``maxCandidates`` per pass; more passes when that was not enough), not the whole store.
    @discardableResult
    public func evict() -> EvictionReport {
        var report = EvictionReport()
        let store = FileSystem.openDirectory(storeDirectory)
        guard store >= 0 else {
            logger.warning("cannot evict: the store cannot be opened", metadata: ["error": "\(StoreError.system("open", path: storeDirectory))"])
            return report
        }
        defer { close(store) }
        var first = true
        for _ in 0..<Self.maxPasses {
            var total: Int64 = 0
            var linked: Int64 = 0
            walkEntries(store) { _, info in
                total += Int64(info.st_size)
                if info.st_nlink > 1 { linked += Int64(info.st_size) }
            }
            if first {
                report.bytesBefore = total
                first = false
            }
            report.bytesAfter = total
            report.linkedBytes = linked
            guard total > (report.removedEntries == 0 ? sizeLimit : lowWaterMark) else { break }
            let excess = total - lowWaterMark
            var candidates = OldestEntries(covering: excess, limit: Self.maxCandidates)
            walkEntries(store) { path, info in
                guard info.st_nlink == 1 else { return }
                candidates.offer(EvictionCandidate(changeTime: info.changeTime, size: Int64(info.st_size), path: path()))
            }
            let chosen = candidates.oldestFirst()
            guard !chosen.isEmpty else { break }
            var removedThisPass = 0
            for candidate in chosen {
                // Looked at again: used or linked since the walk means kept.
                guard let now = FileSystem.status(at: store, candidate.path), now.isRegularFile, now.st_nlink == 1,
                    now.changeTime == candidate.changeTime
                else { continue }
                guard unlinkat(store, candidate.path, 0) == 0 else {
                    if errno != ENOENT {
                        logger.warning(
                            "cannot evict a store entry",
                            metadata: ["error": "\(StoreError.system("remove", path: storeDirectory + "/" + candidate.path))"])
                    }
                    continue
                }
                removedThisPass += 1
                report.removedEntries += 1
                report.removedBytes += Int64(now.st_size)
                report.bytesAfter -= Int64(now.st_size)
            }
            if removedThisPass == 0 || report.bytesAfter <= lowWaterMark { break }
        }
        if report.removedEntries > 0 {
            logger.info(
                "evicted least recently used entries from the store",
                metadata: [
                    "removed": "\(report.removedEntries)", "removed_bytes": "\(report.removedBytes)",
                    "bytes_before": "\(report.bytesBefore)", "bytes_after": "\(report.bytesAfter)",
                    "limit": "\(sizeLimit)", "store": "\(storeDirectory)",
                ])
        }
        if report.bytesAfter > sizeLimit {
            logger.warning(
                "the store stays above its size limit: run trees link what is left",
                metadata: ["bytes": "\(report.bytesAfter)", "linked_bytes": "\(report.linkedBytes)", "limit": "\(sizeLimit)"])
        }
        return report
    }

    /// Most candidates kept in memory by one pass of an eviction.
    static let maxCandidates = 65_536
    static let maxPasses = 64
    /// `blobs/<xx>/<sha>` and `code/<tag>/<xx>/<sha>` are 3 and 4 deep; anything deeper is not ours.
    static let maxEntryDepth = 6

    /// Calls `visit` with each regular file under `blobs` and `code` (its path relative to the
    /// store, built only when asked for, and its status). Links and other kinds are skipped,
    /// never followed; what vanishes meanwhile is skipped.
    private func walkEntries(_ store: Int32, _ visit: (_ path: () -> String, _ info: stat) -> Void) {
        for area in ["blobs", "code"] {
            walk(parent: store, name: area, relative: area, depth: 0, visit)
        }
    }

    private func walk(parent: Int32, name: String, relative: String, depth: Int, _ visit: (_ path: () -> String, _ info: stat) -> Void) {
        guard depth < Self.maxEntryDepth else { return }
        let descriptor = FileSystem.openDirectory(at: parent, name)
        guard descriptor >= 0, let entries = DirectoryEntries(adopting: descriptor) else { return }
        while let entry = entries.next() {
            guard let info = FileSystem.status(at: entries.descriptor, entry) else { continue }
            if info.isDirectory {
                walk(parent: entries.descriptor, name: entry, relative: relative + "/" + entry, depth: depth + 1, visit)
            } else if info.isRegularFile {
                visit({ relative + "/" + entry }, info)
            }
        }
    }
}

/// A store entry that may be evicted.
struct EvictionCandidate: Sendable {
    var changeTime: Int64
    var size: Int64
    /// Relative to the store directory.
    var path: String

    /// Older first; ties broken by path so the order is total.
    static func older(_ a: EvictionCandidate, _ b: EvictionCandidate) -> Bool {
        a.changeTime != b.changeTime ? a.changeTime < b.changeTime : a.path < b.path
    }
}

/// The oldest entries offered whose sizes add up to at least `covering` bytes, and no more
/// than that needs (nor more than `limit` entries): a max-heap on age, the newest kept at the
/// top, dropped as soon as the older ones cover the bytes without it.
struct OldestEntries {
    private var heap: [EvictionCandidate] = []
    private var bytes: Int64 = 0
    private let covering: Int64
    private let limit: Int

    init(covering: Int64, limit: Int) {
        self.covering = covering
        self.limit = max(1, limit)
    }

    mutating func offer(_ candidate: EvictionCandidate) {
        if bytes >= covering, let top = heap.first, !EvictionCandidate.older(candidate, top) { return }
        push(candidate)
        while let top = heap.first, bytes - top.size >= covering || heap.count > limit {
            pop()
        }
    }

    /// The chosen entries, oldest first.
    func oldestFirst() -> [EvictionCandidate] {
        heap.sorted(by: EvictionCandidate.older)
    }

    private mutating func push(_ candidate: EvictionCandidate) {
        bytes += candidate.size
        heap.append(candidate)
        var child = heap.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            guard EvictionCandidate.older(heap[parent], heap[child]) else { break }
            heap.swapAt(parent, child)
            child = parent
        }
    }

    private mutating func pop() {
        bytes -= heap[0].size
        let last = heap.removeLast()
        guard !heap.isEmpty else { return }
        heap[0] = last
        var parent = 0
        while true {
            let left = 2 * parent + 1
            let right = left + 1
            var newest = parent
            if left < heap.count, EvictionCandidate.older(heap[newest], heap[left]) { newest = left }
            if right < heap.count, EvictionCandidate.older(heap[newest], heap[right]) { newest = right }
            if newest == parent { break }
            heap.swapAt(parent, newest)
            parent = newest
        }
    }
}
