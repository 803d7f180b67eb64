import Foundation
import RFSTestSupport
import Testing

@testable import RFSModuleIndex

@Suite("Opening a source folder")
struct RootValidationTests {
    @Test("a missing folder is an error naming the path: no such directory")
    func missingFolder() throws {
        let tree = try TemporaryTree()
        let missing = tree.path("nope")
        let error = #expect(throws: ModuleIndexError.self) { try ModuleIndex(root: missing) }
        #expect(error?.kind == .rootNotFound)
        #expect(error?.description == "\(missing): no such directory")
    }

    @Test("a file is an error naming the path: not a directory")
    func fileInsteadOfFolder() throws {
        let tree = try TemporaryTree(["a.py": "x = 1\n"])
        let error = #expect(throws: ModuleIndexError.self) { try ModuleIndex(root: tree.path("a.py")) }
        #expect(error?.kind == .notADirectory)
        #expect(error?.description == "\(tree.path("a.py")): not a directory")
    }

    @Test("an unreadable folder is an error naming the path: permission denied")
    func unreadableFolder() throws {
        let tree = try TemporaryTree(["ok.py": "", "locked/a.py": "x = 1\n"])
        #expect(chmod(tree.path("locked"), 0) == 0)
        // As nobody when running as root (see `Unprivileged`): the lock is real, the parent is not.
        let (parent, result) = try Unprivileged.withFileAccess {
            (
                Result { try ModuleIndex(root: tree.root).rootPath },
                Result { try ModuleIndex(root: tree.path("locked")).rootPath }
            )
        }
        #expect(try parent.get() == tree.root)
        #expect(throws: ModuleIndexError.self) { try result.get() }
        guard case .failure(let error as ModuleIndexError) = result else { return }
        #expect(error.kind == .unreadable)
        #expect(error.description == "\(tree.path("locked")): permission denied")
    }

    @Test("errno values map to the reasons the CLI prints")
    func errnoReasons() {
        #expect(ModuleIndexError.forRoot(errno: ENOENT, path: "/p").description == "/p: no such directory")
        #expect(ModuleIndexError.forRoot(errno: ENOTDIR, path: "/p").description == "/p: not a directory")
        #expect(ModuleIndexError.forRoot(errno: EACCES, path: "/p").description == "/p: permission denied")
        #expect(ModuleIndexError.forRoot(errno: EACCES, path: "/p").kind == .unreadable)
        #expect(ModuleIndexError.forRoot(errno: EIO, path: "/p").description == "/p: input/output error")
    }

    @Test("rootPath is the real absolute path, whatever path reached it")
    func rootPathIsReal() throws {
        let tree = try TemporaryTree(["real/a.py": "x = 1\n"])
        try FileManager.default.createSymbolicLink(atPath: tree.outside + "/link", withDestinationPath: tree.path("real"))
        let viaLink = try ModuleIndex(root: tree.outside + "/link")
        #expect(viaLink.rootPath == tree.path("real"))
        let viaDots = try ModuleIndex(root: tree.path("real") + "/../real/.")
        #expect(viaDots.rootPath == tree.path("real"))
        #expect(try viaLink.lookup("a")?.origin == tree.path("real/a.py"))
    }
}
