import Dispatch
import Foundation
import Testing

@testable import RFSStore

@Suite("Eviction")
struct EvictionTests {
    /// Store entries made (or used) one after another, each with a ctime later than the last:
    /// the file system's clock is coarse (a few ms), so an entry is touched again until its
    /// ctime has moved past the previous one's (polling the clock, no sleeping).
    struct Entries {
        let scratch: ScratchCache
        let store: NodeStore
        private(set) var lastChangeTime: Int64 = 0

        init(_ scratch: ScratchCache, _ store: NodeStore) {
            self.scratch = scratch
            self.store = store
        }

        /// `blobs/<xx>/<sha>` for entry `number` (the sha is `number` in hex, padded).
        func blob(_ number: Int) -> String {
            let sha = String(repeating: "0", count: 62) + String(format: "%02x", number)
            return store.storeDirectory + "/blobs/" + sha.prefix(2) + "/" + sha
        }

        func code(_ number: Int) -> String {
            let sha = String(repeating: "c", count: 62) + String(format: "%02x", number)
            return store.storeDirectory + "/code/a70d0d0a-o0/" + sha.prefix(2) + "/" + sha
        }

        mutating func make(_ path: String, bytes: Int) throws {
            try scratch.write(path, bytes: bytes, mode: 0o444)
            use(path)
        }

        /// What a run host's link or `os.utime` does: renews the entry's ctime.
        mutating func use(_ path: String) {
            var mode: mode_t = 0o444
            while ScratchCache.status(path)!.changeTime <= lastChangeTime {
                mode = mode == 0o444 ? 0o440 : 0o444
                chmod(path, mode)
            }
            lastChangeTime = ScratchCache.status(path)!.changeTime
        }
    }

    @Test("below the limit nothing is removed")
    func belowLimit() throws {
        let scratch = try ScratchCache()
        let store = try scratch.store(sizeLimit: 1000)
        var entries = Entries(scratch, store)
        for number in 0..<5 { try entries.make(entries.blob(number), bytes: 200) }
        let report = store.evict()
        #expect(report.removedEntries == 0)
        #expect(report.bytesBefore == 1000)
        for number in 0..<5 { #expect(ScratchCache.exists(entries.blob(number))) }
    }

    @Test("over the limit, the least recently used go first, down to 90 %, linked entries kept")
    func leastRecentlyUsedFirst() throws {
        let scratch = try ScratchCache()
        let store = try scratch.store(sizeLimit: 1000)
        var entries = Entries(scratch, store)
        // Ten entries of 200 bytes (2000 > 1000): blobs 0…7 and code 8, 9, in age order.
        for number in 0..<8 { try entries.make(entries.blob(number), bytes: 200) }
        for number in 8..<10 { try entries.make(entries.code(number), bytes: 200) }
        // The oldest is linked from a run tree; blob 2 is used again (now the newest).
        let tree = try store.makeRunTreeDirectory()
        #expect(link(entries.blob(0), tree + "/linked.py") == 0)
        entries.use(entries.blob(2))

        let report = store.evict()
        // 2000 → at most 900: six unlinked entries of 200 go, oldest first: 1, 3, 4, 5, 6, 7.
        #expect(report.bytesBefore == 2000)
        #expect(report.removedEntries == 6)
        #expect(report.removedBytes == 1200)
        #expect(report.bytesAfter == 800)
        #expect(report.linkedBytes == 200)
        for number in [1, 3, 4, 5, 6, 7] { #expect(!ScratchCache.exists(entries.blob(number)), "blob \(number)") }
        for path in [entries.blob(0), entries.blob(2), entries.code(8), entries.code(9)] {
            #expect(ScratchCache.exists(path), "\(path)")
        }
    }

    @Test("tmp files and run trees are not counted or touched")
    func onlyBlobsAndCode() throws {
        let scratch = try ScratchCache()
        let store = try scratch.store(sizeLimit: 100)
        try scratch.write(store.storeDirectory + "/tmp/\(getpid()).abc", bytes: 5000)
        let tree = try store.makeRunTreeDirectory()
        try scratch.write(tree + "/0/big.py", bytes: 5000)
        let report = store.evict()
        #expect(report.bytesBefore == 0)
        #expect(ScratchCache.exists(store.storeDirectory + "/tmp/\(getpid()).abc"))
        #expect(ScratchCache.exists(tree + "/0/big.py"))
    }

    @Test("the candidate heap keeps only the oldest entries that cover the excess")
    func oldestEntries() {
        var oldest = OldestEntries(covering: 250, limit: 100)
        for (time, size) in [(50, 100), (10, 100), (40, 100), (20, 100), (30, 100), (5, 10)] {
            oldest.offer(EvictionCandidate(changeTime: Int64(time), size: Int64(size), path: "p\(time)"))
        }
        // Oldest first: 5 (10 bytes), 10, 20, 30 → 310 ≥ 250, and without 30 only 210.
        #expect(oldest.oldestFirst().map(\.changeTime) == [5, 10, 20, 30])

        var capped = OldestEntries(covering: 1000, limit: 2)
        for time in [3, 1, 2] { capped.offer(EvictionCandidate(changeTime: Int64(time), size: 100, path: "p\(time)")) }
        #expect(capped.oldestFirst().map(\.changeTime) == [1, 2])
    }

    @Test("writers renaming entries into place while evictions run: neither fails, the limit holds after")
    func concurrentWriters() throws {
        let scratch = try ScratchCache()
        let store = try scratch.store(sizeLimit: 20_000)
        let entries = Entries(scratch, store)
        let finals = (0..<256).map(entries.blob)
        let group = DispatchGroup()
        let failures = Failures()
        for writer in 0..<2 {
            DispatchQueue.global().async(group: group) {
                for number in 0..<300 {
                    let temporary = store.storeDirectory + "/tmp/\(getpid()).w\(writer)-\(number)"
                    // Both writers write the same entries: a rename over an existing one is fine.
                    let final = finals[number % 256]
                    do {
                        try FileManager.default.createDirectory(
                            atPath: (final as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
                        try Data(repeating: 0x62, count: 500).write(to: URL(fileURLWithPath: temporary))
                        guard rename(temporary, final) == 0 else { throw StoreError("rename", path: final, code: errno) }
                    } catch {
                        failures.add("\(error)")
                    }
                }
            }
        }
        DispatchQueue.global().async(group: group) {
            for _ in 0..<30 { store.evict() }
        }
        group.wait()
        #expect(failures.all.isEmpty)
        let report = store.evict()
        #expect(report.bytesAfter <= 20_000)
        #expect(store.evict().bytesBefore == report.bytesAfter)
    }

    @Test("scheduled evictions run on the maintenance queue and bring the store under its limit")
    func scheduled() async throws {
        let scratch = try ScratchCache()
        let store = try scratch.store(sizeLimit: 1000)
        var entries = Entries(scratch, store)
        for number in 0..<10 { try entries.make(entries.blob(number), bytes: 200) }
        let maintenance = StoreMaintenance(store: store)
        maintenance.scheduleEviction()
        maintenance.scheduleEviction()
        await maintenance.idle()
        #expect(await maintenance.evict().bytesBefore == 800)
        for number in 0..<6 { #expect(!ScratchCache.exists(entries.blob(number))) }
    }
}

/// Failures seen by worker threads.
final class Failures: @unchecked Sendable {
    private let lock = NSLock()
    private var messages: [String] = []

    func add(_ message: String) {
        lock.withLock { messages.append(message) }
    }

    var all: [String] { lock.withLock { messages } }
}
