import Foundation
import Testing

@testable import RFSStore

@Suite("Node store layout")
struct LayoutTests {
    @Test("creates store/{blobs,code,tmp} and runs, with runs and tmp private to the user")
    func createsLayout() throws {
        let scratch = try ScratchCache()
        let store = try scratch.store()
        #expect(store.storeDirectory == scratch.cache + "/store")
        #expect(store.runsDirectory == scratch.cache + "/runs")
        for directory in ["store", "store/blobs", "store/code", "store/tmp", "runs"] {
            #expect(ScratchCache.status(scratch.cache + "/" + directory)?.isDirectory == true, "\(directory)")
        }
        #expect(ScratchCache.status(store.runsDirectory)!.st_mode & 0o777 == 0o700)
        #expect(ScratchCache.status(store.storeDirectory + "/tmp")!.st_mode & 0o777 == 0o700)
    }

    @Test("an existing layout is reused and a too open runs directory is made private again")
    func reusesLayout() throws {
        let scratch = try ScratchCache()
        let first = try scratch.store()
        try scratch.write(first.storeDirectory + "/blobs/ab/abcd")
        chmod(first.runsDirectory, 0o777)
        let second = try scratch.store()
        #expect(ScratchCache.exists(second.storeDirectory + "/blobs/ab/abcd"))
        #expect(ScratchCache.status(second.runsDirectory)!.st_mode & 0o777 == 0o700)
    }

    @Test("a cache path that is a file fails naming the path and the reason")
    func cacheIsAFile() throws {
        let scratch = try ScratchCache()
        try scratch.write(scratch.cache)
        let error = #expect(throws: StoreError.self) { try scratch.store() }
        #expect(error?.path == scratch.cache)
        #expect(error?.description.contains(scratch.cache) == true)
    }

    @Test("a layout directory replaced by a symbolic link is refused")
    func linkedLayoutDirectory() throws {
        let scratch = try ScratchCache()
        try FileManager.default.createDirectory(atPath: scratch.cache, withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(atPath: scratch.cache + "/runs", withDestinationPath: scratch.outside)
        let error = #expect(throws: StoreError.self) { try scratch.store() }
        #expect(error?.path == scratch.cache + "/runs")
    }

    @Test("a relative cache path is refused")
    func relativePath() {
        #expect(throws: StoreError.self) { try NodeStore(directory: "cache", sizeLimit: 1, logger: .init(label: "t")) }
    }

    @Test("run trees are runs/<pid>.<n>, new and empty each time")
    func runTreeNames() throws {
        let scratch = try ScratchCache()
        let store = try scratch.store()
        let first = try store.makeRunTreeDirectory()
        let second = try store.makeRunTreeDirectory()
        #expect(first != second)
        for tree in [first, second] {
            #expect(tree.hasPrefix(store.runsDirectory + "/\(getpid())."))
            #expect(ScratchCache.status(tree)?.isDirectory == true)
            #expect(try FileManager.default.contentsOfDirectory(atPath: tree).isEmpty)
        }
    }
}
