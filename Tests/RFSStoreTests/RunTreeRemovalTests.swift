import Foundation
import RFSTestSupport
import Testing

@testable import RFSStore

@Suite("Removing run trees")
struct RunTreeRemovalTests {
    @Test("removes a tree of read-only files and directories, unlinking links without following them")
    func removesTree() throws {
        let scratch = try ScratchCache()
        let store = try scratch.store()
        try scratch.write(scratch.outside + "/precious.txt")
        try scratch.write(scratch.outside + "/dir/also.txt")
        let tree = try store.makeRunTreeDirectory()
        try scratch.write(tree + "/0/pkg/__init__.py", mode: 0o444)
        try scratch.write(tree + "/0/pkg/data/table.json", mode: 0o444)
        try scratch.write(tree + "/1/mod.py", mode: 0o444)
        try FileManager.default.createSymbolicLink(atPath: tree + "/0/pkg/escape", withDestinationPath: scratch.outside)
        try FileManager.default.createSymbolicLink(atPath: tree + "/0/file-link", withDestinationPath: scratch.outside + "/precious.txt")
        chmod(tree + "/0/pkg/data", 0o555)
        chmod(tree + "/1", 0o000)
        try store.removeRunTree(tree)
        #expect(!ScratchCache.exists(tree))
        #expect(ScratchCache.exists(scratch.outside + "/precious.txt"))
        #expect(ScratchCache.exists(scratch.outside + "/dir/also.txt"))
    }

    @Test("refuses paths that are not directly inside runs/, touching nothing")
    func refusesOutside() throws {
        let scratch = try ScratchCache()
        let store = try scratch.store()
        try scratch.write(scratch.outside + "/precious.txt")
        let tree = try store.makeRunTreeDirectory()
        try scratch.write(tree + "/0/sub/a.py")
        for path in [
            scratch.outside, store.runsDirectory + "/../../outside", store.runsDirectory, store.runsDirectory + "/",
            store.runsDirectory + "/..", tree + "/0", store.storeDirectory + "/tmp", "relative/runs/1.1",
        ] {
            #expect(throws: StoreError.self, "\(path)") { try store.removeRunTree(path) }
        }
        #expect(ScratchCache.exists(scratch.outside + "/precious.txt"))
        #expect(ScratchCache.exists(tree + "/0/sub/a.py"))
    }

    @Test("a symbolic link in runs/ is refused, not followed")
    func refusesLinkedTree() throws {
        let scratch = try ScratchCache()
        let store = try scratch.store()
        try scratch.write(scratch.outside + "/precious.txt")
        let link = store.runsDirectory + "/\(getpid()).999"
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: scratch.outside)
        let error = #expect(throws: StoreError.self) { try store.removeRunTree(link) }
        #expect(error?.description.contains("not a directory") == true)
        #expect(ScratchCache.exists(scratch.outside + "/precious.txt"))
    }

    @Test("a tree already gone is not an error")
    func alreadyGone() throws {
        let scratch = try ScratchCache()
        let store = try scratch.store()
        let tree = try store.makeRunTreeDirectory()
        try store.removeRunTree(tree)
        try store.removeRunTree(tree)
    }
}

@Suite("Removing run trees without root's privileges")
struct UnprivilegedRemovalTests {
    @Test("an unreadable directory and a read-only one inside a tree are made removable and removed")
    func lockedDirectories() throws {
        let scratch = try ScratchCache()
        chmod(scratch.base, 0o755)
        let tree = scratch.base + "/tree"
        try FileManager.default.createDirectory(atPath: tree, withIntermediateDirectories: false)
        if Unprivileged.isRoot { chown(tree, Unprivileged.uid, Unprivileged.gid) }
        try Unprivileged.withFileAccess {
            try FileManager.default.createDirectory(atPath: tree + "/0/locked", withIntermediateDirectories: true)
            try FileManager.default.createDirectory(atPath: tree + "/0/readonly", withIntermediateDirectories: true)
            for file in ["/0/locked/a.py", "/0/readonly/b.py", "/0/c.py"] {
                #expect(FileManager.default.createFile(atPath: tree + file, contents: Data("x".utf8)))
                chmod(tree + file, 0o444)
            }
            chmod(tree + "/0/locked", 0o000)
            chmod(tree + "/0/readonly", 0o555)
            // The locks are real for this identity: the test would pass for nothing otherwise.
            #expect(Unprivileged.openDirectoryError(tree + "/0/locked") == EACCES)
            #expect(unlink(tree + "/0/readonly/b.py") != 0 && errno == EACCES)

            let descriptor = open(tree, O_RDONLY | O_DIRECTORY)
            #expect(descriptor >= 0)
            defer { close(descriptor) }
            try TreeRemoval.remove("0", in: descriptor, path: tree + "/0")
        }
        #expect(!ScratchCache.exists(tree + "/0"))
        #expect(ScratchCache.exists(tree))
    }
}
