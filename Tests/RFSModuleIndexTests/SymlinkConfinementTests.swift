import Foundation
import RFSTestSupport
import Testing

@testable import RFSModuleIndex

/// DESIGN.md §4: a symlink is followed only when its real path stays inside the root's real path;
/// no byte from outside the root is ever served. Symlinks are made here, in temp dirs, never
/// committed.
@Suite("Symlink confinement")
struct SymlinkConfinementTests {
    @Test("a symlinked file inside the root is served under the link's name")
    func fileLinkInside() throws {
        let tree = try TemporaryTree(["real.py": "R = 1\n"])
        try tree.symlink("alias.py", to: "real.py")
        let index = try ModuleIndex(root: tree.root)
        #expect(try index.entries().map(\.name) == ["alias", "real"])
        let spec = try #require(try index.lookup("alias"))
        #expect(spec.source == "R = 1\n")
        #expect(spec.origin == tree.path("alias.py"))
    }

    @Test("a symlinked directory inside the root is served as a package")
    func directoryLinkInside() throws {
        let tree = try TemporaryTree(["lib/realpkg/__init__.py": "", "lib/realpkg/mod.py": "M = 1\n"])
        try tree.symlink("pkglink", to: "lib/realpkg")
        try tree.makeDirectory("p")
        try tree.write("p/__init__.py", "")
        try tree.symlink("p/up", to: "../lib/realpkg")
        let index = try ModuleIndex(root: tree.root)
        #expect(try index.entries().map(\.name) == ["lib", "lib.realpkg", "lib.realpkg.mod", "p", "p.up", "p.up.mod", "pkglink", "pkglink.mod"])
        #expect(try index.lookup("pkglink.mod")?.source == "M = 1\n")
        #expect(try index.lookup("p.up.mod")?.origin == tree.path("p/up/mod.py"))
        #expect(try index.lookup("pkglink")?.submoduleSearchLocations == [tree.path("pkglink")])
    }

    @Test("a symlinked file escaping the root is not served")
    func fileLinkEscaping() throws {
        let tree = try TemporaryTree(["ok.py": ""])
        try tree.writeOutside("secret.py", "SECRET = 'outside'\n")
        try tree.symlink("evil.py", to: tree.outside + "/secret.py")
        try tree.symlink("relative_evil.py", to: "../outside/secret.py")
        let index = try ModuleIndex(root: tree.root)
        #expect(try index.entries().map(\.name) == ["ok"])
        #expect(try index.lookup("evil") == nil)
        #expect(try index.lookup("relative_evil") == nil)
    }

    @Test("a symlinked directory escaping the root is not served, nor anything below it")
    func directoryLinkEscaping() throws {
        let tree = try TemporaryTree(["pkg/__init__.py": ""])
        try tree.writeOutside("outpkg/__init__.py", "SECRET = 'outside'\n")
        try tree.writeOutside("outpkg/mod.py", "SECRET = 'outside'\n")
        try tree.symlink("evildir", to: tree.outside + "/outpkg")
        try tree.symlink("pkg/evil", to: "../../outside/outpkg")
        let index = try ModuleIndex(root: tree.root)
        #expect(try index.entries().map(\.name) == ["pkg"])
        for name in ["evildir", "evildir.mod", "pkg.evil", "pkg.evil.mod"] {
            #expect(try index.lookup(name) == nil, "\(name)")
        }
    }

    @Test("a chain of links is judged by where it finally lands")
    func chainedLinks() throws {
        let tree = try TemporaryTree(["real.py": "R = 1\n"])
        try tree.writeOutside("secret.py", "SECRET = 1\n")
        try tree.symlink("hop1.py", to: "hop2.py")
        try tree.symlink("hop2.py", to: "real.py")
        try tree.symlink("out1.py", to: "out2.py")
        try tree.symlink("out2.py", to: tree.outside + "/secret.py")
        let index = try ModuleIndex(root: tree.root)
        #expect(try index.entries().map(\.name) == ["hop1", "hop2", "real"])
    }

    @Test("dangling links and link cycles are skipped without hanging")
    func danglingAndCycles() throws {
        let tree = try TemporaryTree(["p/__init__.py": "", "p/m.py": ""])
        try tree.symlink("dangling.py", to: "nowhere.py")
        try tree.symlink("p/loop", to: "..")
        try tree.symlink("p/self", to: ".")
        try tree.symlink("selfloop.py", to: "selfloop.py")
        let index = try ModuleIndex(root: tree.root)
        #expect(try index.entries().map(\.name) == ["p", "p.m"])
        #expect(try index.lookup("dangling") == nil)
        #expect(try index.lookup("p.loop") == nil)
        #expect(try index.lookup("p.self.m") == nil)
        #expect(try index.lookup("selfloop") == nil)
    }

    @Test("a file swapped for an escaping symlink after indexing is never served")
    func swappedAfterIndexing() throws {
        let tree = try TemporaryTree(["a.py": "A = 1\n"])
        try tree.writeOutside("secret.py", "SECRET = 1\n")
        let index = try ModuleIndex(root: tree.root)
        #expect(try index.lookup("a")?.source == "A = 1\n")
        try tree.remove("a.py")
        try tree.symlink("a.py", to: tree.outside + "/secret.py")
        let result = try? index.lookup("a")
        #expect(result == nil)
    }

    @Test("a package directory swapped for an escaping symlink after indexing is never served")
    func directorySwappedAfterIndexing() throws {
        let tree = try TemporaryTree(["pkg/__init__.py": "P = 1\n", "pkg/mod.py": "M = 1\n"])
        try tree.writeOutside("evil/__init__.py", "SECRET = 1\n")
        try tree.writeOutside("evil/mod.py", "SECRET = 1\n")
        let index = try ModuleIndex(root: tree.root)
        #expect(try index.lookup("pkg.mod")?.source == "M = 1\n")
        try tree.remove("pkg")
        try tree.symlink("pkg", to: tree.outside + "/evil")
        #expect((try? index.lookup("pkg")) ?? nil == nil)
        #expect((try? index.lookup("pkg.mod")) ?? nil == nil)
    }

    @Test("the file reader checks the opened file's real path, whatever path it was given")
    func readerRefusesOutsidePaths() throws {
        let tree = try TemporaryTree(["a.py": "A = 1\n"])
        try tree.writeOutside("secret.py", "SECRET = 1\n")
        try tree.symlink("evil.py", to: tree.outside + "/secret.py")
        let reader = SourceFileReader(confinement: Confinement(root: tree.root))
        let error = #expect(throws: ModuleIndexError.self) {
            try reader.read(path: tree.path("evil.py"), reportedAs: tree.path("evil.py"), limit: 1 << 20)
        }
        #expect(error?.kind == .outsideRoot)
        #expect(error?.path == tree.path("evil.py"))
        guard case .contents(let bytes) = try reader.read(path: tree.path("a.py"), reportedAs: tree.path("a.py"), limit: 1 << 20)
        else {
            Issue.record("a.py inside the root should be readable")
            return
        }
        #expect(bytes == Array("A = 1\n".utf8))
    }

    @Test("confinement compares whole path components")
    func confinementPrefix() {
        let confinement = Confinement(root: "/srv/src")
        #expect(confinement.contains("/srv/src"))
        #expect(confinement.contains("/srv/src/a.py"))
        #expect(!confinement.contains("/srv/src2/a.py"))
        #expect(!confinement.contains("/srv"))
        #expect(Confinement(root: "/").contains("/anything"))
    }

    @Test("a symlink escaping the root is warned about once, not on every lookup")
    func escapeWarnedOnce() throws {
        let tree = try TemporaryTree(["ok.py": ""])
        try tree.writeOutside("secret.py", "")
        try tree.symlink("evil.py", to: tree.outside + "/secret.py")
        let recorder = LogRecorder()
        let index = try ModuleIndex(root: tree.root, logger: recorder.logger)
        for _ in 0..<3 { _ = try index.lookup("evil") }
        _ = try index.entries()
        #expect(recorder.messages(at: .warning).count == 1)
        #expect(recorder.messages(at: .warning).first?.contains("evil.py") == true)
    }
}
