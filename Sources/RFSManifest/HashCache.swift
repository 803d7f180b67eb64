#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation
import Logging
import Synchronization

/// What identifies a file's content without reading it: if none of these changed, neither did
/// the bytes (a write updates mtime and ctime; a replacement changes the inode).
public struct FileStamp: Hashable, Sendable {
    public var device: UInt64
    public var inode: UInt64
    public var size: Int64
    public var modifiedNanoseconds: Int64
    public var changedNanoseconds: Int64

    public init(device: UInt64, inode: UInt64, size: Int64, modifiedNanoseconds: Int64, changedNanoseconds: Int64) {
        self.device = device
        self.inode = inode
        self.size = size
        self.modifiedNanoseconds = modifiedNanoseconds
        self.changedNanoseconds = changedNanoseconds
    }

    public init(_ info: stat) {
        #if canImport(Darwin)
        let modified = info.st_mtimespec
        let changed = info.st_ctimespec
        #else
        let modified = info.st_mtim
        let changed = info.st_ctim
        #endif
        self.init(
            device: UInt64(info.st_dev), inode: UInt64(info.st_ino), size: Int64(info.st_size),
            modifiedNanoseconds: Int64(modified.tv_sec) &* 1_000_000_000 &+ Int64(modified.tv_nsec),
            changedNanoseconds: Int64(changed.tv_sec) &* 1_000_000_000 &+ Int64(changed.tv_nsec))
    }
}

/// The client's SHA-256 cache: unchanged files (same ``FileStamp``) are not read again when the
/// next run builds its manifest.
///
/// Persisted in `$XDG_CACHE_HOME/rfs/client-hashes-v2/` (default `~/.cache/rfs`), one file per
/// set of folders a run serves (``path(forRoots:in:)``; at most ``defaultMaxFiles`` sets), in a compact
/// binary form: the 8-byte magic `RFSHASH1`, then 80-byte records (device, inode, size, mtime ns,
/// ctime ns, last-seen generation as little-endian 64-bit integers, then the 32-byte digest).
/// ``save()`` rewrites it atomically (a temporary file in the same folder renamed over it) and
/// keeps at most ``maxEntries``, dropping the least recently seen. A file that is not exactly
/// that shape is ignored with a warning (and replaced at the next save).
///
/// State is owned by ``state`` (a `Mutex`), held only for dictionary access, never during I/O
/// of the files being hashed; ``save()`` holds it while it copies the entries out.
public final class HashCache: Sendable {
    /// The name tests give a single cache file.
    public static let fileName = "client-hashes"
    public static let defaultMaxEntries = 500_000
    static let magic: [UInt8] = Array("RFSHASH1".utf8)
    static let recordSize = 80

    /// Where the cache lives; nil keeps it in memory only.
    public let path: String?
    public let maxEntries: Int
    private let logger: Logger
    private let state: Mutex<State>

    struct Entry {
        var digest: [UInt8]
        var seen: UInt64
    }

    struct State: ~Copyable {
        var entries: [FileStamp: Entry] = [:]
        /// Bumped on every load: entries seen by this process sort after older ones.
        var generation: UInt64 = 1
        var isDirty = false
    }

    /// Loads the cache at `path` (a missing file is an empty cache). Synchronous file I/O.
    public init(path: String?, maxEntries: Int = HashCache.defaultMaxEntries, logger: Logger = Logger(label: "rfs.hash-cache")) {
        self.path = path
        self.maxEntries = max(1, maxEntries)
        self.logger = logger
        var state = State()
        if let path {
            switch Self.load(path: path, maxEntries: self.maxEntries) {
            case .loaded(let entries, let newest):
                state.entries = entries
                state.generation = newest &+ 1
            case .missing:
                break
            case .corrupt(let reason):
                logger.warning("ignoring the hash cache", metadata: ["path": "\(path)", "reason": "\(reason)"])
            }
        }
        state.isDirty = false
        self.state = Mutex(state)
    }

    /// `$XDG_CACHE_HOME/rfs/client-hashes-v2`, else `$HOME/.cache/rfs/client-hashes-v2`: the
    /// folder of the caches, one per set of folders a run serves (``path(forRoots:in:)``); nil
    /// when neither variable is set (the cache then stays in memory).
    public static func defaultDirectory(environment: [String: String]) -> String? {
        if let base = environment["XDG_CACHE_HOME"], base.hasPrefix("/") { return base + "/rfs/" + directoryName }
        if let home = environment["HOME"], !home.isEmpty { return home + "/.cache/rfs/" + directoryName }
        return nil
    }

    public static let directoryName = "client-hashes-v2"
    /// How many folder sets keep a cache; beyond, the least recently changed go (``trim(_:keep:)``).
    public static let defaultMaxFiles = 64

    /// The cache file of a run serving `rootPaths` (in order): a run loads the hashes of its
    /// own folders only, not those of every folder ever served (a single file grew to megabytes
    /// and cost more to read on every run than the run itself).
    public static func path(forRoots rootPaths: [String], in directory: String) -> String {
        directory + "/" + String(SHA256.hex(of: Array(rootPaths.joined(separator: "\u{0}").utf8)).prefix(32))
    }

    /// Keeps the `keep` most recently changed cache files of `directory` and removes the rest
    /// (and temporaries a crash left). Synchronous file I/O; failures only cost a later rehash.
    public static func trim(_ directory: String, keep: Int = defaultMaxFiles) {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: directory), names.count > keep else { return }
        let dated = names.compactMap { name -> (String, Date)? in
            let path = directory + "/" + name
            guard let date = (try? FileManager.default.attributesOfItem(atPath: path))?[.modificationDate] as? Date else { return nil }
            return (path, date)
        }
        for (path, _) in dated.sorted(by: { $0.1 > $1.1 }).dropFirst(keep) {
            try? FileManager.default.removeItem(atPath: path)
        }
    }

    public var count: Int { state.withLock { $0.entries.count } }

    /// The cached SHA-256 (lowercase hex) of a file with this stamp, marking it seen.
    ///
    /// A hit alone does not make the cache dirty: a run whose files are all unchanged writes
    /// nothing (rewriting the whole file on every run cost more than the run). Its "seen" marks
    /// are written with the next change, so least-recently-seen is kept to that resolution.
    public func sha256(for stamp: FileStamp) -> String? {
        let digest: [UInt8]? = state.withLock { state in
            guard var entry = state.entries[stamp] else { return nil }
            if entry.seen != state.generation {
                entry.seen = state.generation
                state.entries[stamp] = entry
            }
            return entry.digest
        }
        return digest.map { SHA256.hex($0) }
    }

    /// Remembers `sha256` (lowercase hex) for a file with this stamp.
    public func store(_ sha256: String, for stamp: FileStamp) {
        guard let digest = Self.digest(hex: sha256) else { return }
        state.withLock { state in
            state.entries[stamp] = Entry(digest: digest, seen: state.generation)
            state.isDirty = true
        }
    }

    /// Writes the cache if it changed: at most ``maxEntries``, the most recently seen, to a
    /// temporary file renamed over ``path``. Synchronous file I/O.
    public func save() throws(HashCacheError) {
        guard let path else { return }
        let records: [(FileStamp, Entry)]? = state.withLock { state in
            guard state.isDirty else { return nil }
            state.isDirty = false
            if state.entries.count > maxEntries {
                let kept = state.entries.sorted { $0.value.seen > $1.value.seen }.prefix(maxEntries)
                state.entries = Dictionary(uniqueKeysWithValues: kept.map { ($0.key, $0.value) })
            }
            return state.entries.map { ($0.key, $0.value) }
        }
        guard let records else { return }
        var bytes = Self.magic
        bytes.reserveCapacity(Self.magic.count + records.count * Self.recordSize)
        for (stamp, entry) in records {
            for value in [stamp.device, stamp.inode, UInt64(bitPattern: stamp.size), UInt64(bitPattern: stamp.modifiedNanoseconds),
                UInt64(bitPattern: stamp.changedNanoseconds), entry.seen]
            {
                withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) }
            }
            bytes.append(contentsOf: entry.digest)
        }
        try AtomicFile.write(bytes, to: path)
    }

    enum Loaded {
        case loaded([FileStamp: Entry], newest: UInt64)
        case missing
        case corrupt(String)
    }

    static func load(path: String, maxEntries: Int) -> Loaded {
        let limit = magic.count + maxEntries * recordSize
        let bytes: [UInt8]
        switch AtomicFile.read(path, limit: limit) {
        case .missing: return .missing
        case .failed(let reason): return .corrupt(reason)
        case .contents(let read): bytes = read
        }
        guard bytes.count >= magic.count, Array(bytes[0..<magic.count]) == magic else { return .corrupt("not an rfs hash cache") }
        let body = bytes.count - magic.count
        guard body % recordSize == 0 else { return .corrupt("truncated (\(bytes.count) bytes)") }
        var entries: [FileStamp: Entry] = [:]
        entries.reserveCapacity(body / recordSize)
        var newest: UInt64 = 0
        bytes.withUnsafeBytes { raw in
            var offset = magic.count
            func next() -> UInt64 {
                defer { offset += 8 }
                return UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: offset, as: UInt64.self))
            }
            while offset < raw.count {
                let stamp = FileStamp(
                    device: next(), inode: next(), size: Int64(bitPattern: next()), modifiedNanoseconds: Int64(bitPattern: next()),
                    changedNanoseconds: Int64(bitPattern: next()))
                let seen = next()
                let digest = Array(raw[offset..<offset + 32])
                offset += 32
                entries[stamp] = Entry(digest: digest, seen: seen)
                newest = max(newest, seen)
            }
        }
        return .loaded(entries, newest: newest)
    }

    static func digest(hex: String) -> [UInt8]? {
        let utf8 = Array(hex.utf8)
        guard utf8.count == 64 else { return nil }
        var digest = [UInt8](repeating: 0, count: 32)
        for index in 0..<32 {
            guard let high = nibble(utf8[2 * index]), let low = nibble(utf8[2 * index + 1]) else { return nil }
            digest[index] = high << 4 | low
        }
        return digest
    }

    private static func nibble(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
        default: nil
        }
    }
}

/// Saving the hash cache failed; the cache is an optimisation, so callers log this and go on.
public struct HashCacheError: Error, Sendable, CustomStringConvertible {
    public var path: String
    public var reason: String

    public var description: String { "cannot write the hash cache \(path): \(reason)" }
}
