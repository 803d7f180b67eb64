import Foundation
import RFSTestSupport
import Testing

@testable import RFSModuleIndex

/// DESIGN.md §4: contents are served as they are on disk at fetch time, and a file added while
/// serving is found. None of these tests wait: they change the tree and look up at once, which
/// is the hard case for an mtime-validated cache (same timestamp tick).
@Suite("Freshness")
struct FreshnessTests {
    @Test("a module added after indexing is found")
    func addedModule() throws {
        let tree = try TemporaryTree(["a.py": ""])
        let index = try ModuleIndex(root: tree.root)
        #expect(try index.entries().map(\.name) == ["a"])
        #expect(try index.lookup("b") == nil)
        try tree.write("b.py", "B = 1\n")
        #expect(try index.lookup("b")?.source == "B = 1\n")
    }

    @Test("a submodule added to a cached package is found")
    func addedSubmodule() throws {
        let tree = try TemporaryTree(["pkg/__init__.py": "", "pkg/a.py": ""])
        let index = try ModuleIndex(root: tree.root)
        #expect(try index.lookup("pkg.a") != nil)
        try tree.write("pkg/deep/er/new.py", "N = 1\n")
        #expect(try index.lookup("pkg.deep.er.new")?.source == "N = 1\n")
        #expect(try index.lookup("pkg.deep")?.kind == .namespace)
    }

    @Test("contents are read at lookup time")
    func editedContents() throws {
        let tree = try TemporaryTree(["a.py": "V = 1\n", "pkg/__init__.py": "P = 1\n"])
        let index = try ModuleIndex(root: tree.root)
        #expect(try index.lookup("a")?.source == "V = 1\n")
        #expect(try index.lookup("pkg")?.source == "P = 1\n")
        try tree.write("a.py", "V = 2\n")
        try tree.write("pkg/__init__.py", "P = 2\n")
        #expect(try index.lookup("a")?.source == "V = 2\n")
        #expect(try index.lookup("pkg")?.source == "P = 2\n")
    }

    @Test("a removed module is no longer found")
    func removedModule() throws {
        let tree = try TemporaryTree(["a.py": "", "b.py": ""])
        let index = try ModuleIndex(root: tree.root)
        #expect(try index.lookup("a") != nil)
        try tree.remove("a.py")
        #expect(try index.lookup("a") == nil)
        #expect(try index.entries().map(\.name) == ["b"])
    }

    @Test("a package created next to a cached module takes precedence at once")
    func precedenceChangeIsSeen() throws {
        let tree = try TemporaryTree(["x.py": "K = 'module'\n"])
        let index = try ModuleIndex(root: tree.root)
        #expect(try index.lookup("x")?.kind == .module)
        try tree.write("x/__init__.py", "K = 'package'\n")
        #expect(try index.lookup("x")?.source == "K = 'package'\n")
    }

    @Test("a directory replaced by a module is seen")
    func replacedDirectory() throws {
        let tree = try TemporaryTree(["x/__init__.py": "", "x/sub.py": ""])
        let index = try ModuleIndex(root: tree.root)
        #expect(try index.lookup("x.sub") != nil)
        try tree.remove("x")
        try tree.write("x.py", "")
        #expect(try index.lookup("x.sub") == nil)
        #expect(try index.lookup("x")?.kind == .module)
    }

    @Test("a miss re-reads the directory even when its mtime did not move")
    func missRereadsSettledDirectory() throws {
        let tree = try TemporaryTree(["a.py": "A = 1\n"])
        let old = Date(timeIntervalSinceNow: -3600)
        try FileManager.default.setAttributes([.modificationDate: old], ofItemAtPath: tree.root)
        let index = try ModuleIndex(root: tree.root)  // caches a settled root listing
        #expect(try index.lookup("a") != nil)
        // Same-tick change: the new file is there but the directory's mtime looks unchanged.
        try tree.write("b.py", "B = 1\n")
        try FileManager.default.setAttributes([.modificationDate: old], ofItemAtPath: tree.root)
        #expect(try index.lookup("b")?.source == "B = 1\n")
        // And a file removed behind a settled listing is not served either.
        try tree.remove("a.py")
        try FileManager.default.setAttributes([.modificationDate: old], ofItemAtPath: tree.root)
        #expect(try index.lookup("a") == nil)
    }

    @Test("a settled directory's listing is reused until its mtime changes")
    func stampSettling() {
        var stamp = DirectoryStamp(stat())
        stamp.modifiedSeconds = 1_000
        stamp.modifiedNanoseconds = 0
        #expect(stamp.isSettled(asOf: 1_003 * 1_000_000_000))
        #expect(!stamp.isSettled(asOf: 1_001 * 1_000_000_000))
        #expect(!stamp.isSettled(asOf: 999 * 1_000_000_000))  // mtime in the future: never trusted
    }
}

/// `lookup` is called from many threads at once by the client; it must give every caller the same
/// answer it would give alone.
@Suite("Concurrency")
struct ConcurrencyTests {
    @Test("many concurrent lookups agree with sequential ones")
    func concurrentLookups() async throws {
        let index = try ModuleIndex(root: Fixtures.workspace)
        let names = FixtureWorkspaceTests.expected.map(\.name) + ["missing", "pkg_relative.nope", "venv"]
        var expected: [String: ModuleSpec?] = [:]
        for name in names { expected[name] = try index.lookup(name) }
        let reference = expected

        try await withThrowingTaskGroup(of: Bool.self) { group in
            for task in 0..<64 {
                group.addTask {
                    var allMatch = true
                    for round in 0..<20 {
                        let name = names[(task * 7 + round) % names.count]
                        let spec = try index.lookup(name)
                        allMatch = allMatch && spec == reference[name]!
                    }
                    return allMatch
                }
            }
            for try await allMatch in group { #expect(allMatch) }
        }
    }

    @Test("concurrent lookups while files are being added still find every new file")
    func lookupsDuringChanges() async throws {
        let tree = try TemporaryTree(["pkg/__init__.py": ""])
        let index = try ModuleIndex(root: tree.root)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for number in 0..<32 {
                group.addTask {
                    try tree.write("pkg/m\(number).py", "N = \(number)\n")
                    let spec = try index.lookup("pkg.m\(number)")
                    #expect(spec?.source == "N = \(number)\n")
                    _ = try index.lookup("pkg")
                }
            }
            try await group.waitForAll()
        }
        #expect(try index.entries().count == 33)
    }
}
