import Foundation
import Testing

@testable import RFSStore

@Suite("Startup cleanup")
struct CleanupTests {
    @Test("removes a dead process's tmp file and run tree, keeps a live one's")
    func deadAndLive() throws {
        let scratch = try ScratchCache()
        let store = try scratch.store()
        let dead = try deadPID()
        let live = getppid()
        try scratch.write(store.storeDirectory + "/tmp/\(dead).x7f3")
        try scratch.write(store.storeDirectory + "/tmp/\(live).a1b2")
        try scratch.write(store.runsDirectory + "/\(dead).3/0/pkg/__init__.py", mode: 0o444)
        try scratch.write(store.runsDirectory + "/\(live).3/0/mod.py", mode: 0o444)
        let report = store.startupCleanup()
        #expect(report.temporaryFiles == 1)
        #expect(report.runTrees == 1)
        #expect(!ScratchCache.exists(store.storeDirectory + "/tmp/\(dead).x7f3"))
        #expect(!ScratchCache.exists(store.runsDirectory + "/\(dead).3"))
        #expect(ScratchCache.exists(store.storeDirectory + "/tmp/\(live).a1b2"))
        #expect(ScratchCache.exists(store.runsDirectory + "/\(live).3/0/mod.py"))
    }

    @Test("a live writer's tmp file untouched for over an hour is abandoned")
    func abandonedTemporary() throws {
        let scratch = try ScratchCache()
        let store = try scratch.store()
        let old = store.storeDirectory + "/tmp/\(getppid()).old"
        let fresh = store.storeDirectory + "/tmp/\(getppid()).fresh"
        try scratch.write(old)
        try scratch.write(fresh)
        var times = [timespec(tv_sec: time(nil) - 2 * 3600, tv_nsec: 0), timespec(tv_sec: time(nil) - 2 * 3600, tv_nsec: 0)]
        #expect(utimensat(AT_FDCWD, old, &times, 0) == 0)
        store.startupCleanup()
        #expect(!ScratchCache.exists(old))
        #expect(ScratchCache.exists(fresh))
    }

    @Test("trees left by an earlier process with our pid are removed, and ours are numbered after them")
    func ownPidLeftovers() throws {
        let scratch = try ScratchCache()
        let leftover = scratch.cache + "/runs/\(getpid()).41"
        try scratch.write(leftover + "/0/a.py")
        let store = try scratch.store()
        let mine = try store.makeRunTreeDirectory()
        #expect(mine == store.runsDirectory + "/\(getpid()).42")
        store.startupCleanup()
        #expect(!ScratchCache.exists(leftover))
        #expect(ScratchCache.exists(mine))
    }

    @Test("names that are not <pid>.<n> are left alone")
    func foreignNames() throws {
        let scratch = try ScratchCache()
        let store = try scratch.store()
        try scratch.write(store.runsDirectory + "/notes/readme")
        store.startupCleanup()
        #expect(ScratchCache.exists(store.runsDirectory + "/notes/readme"))
    }
}
