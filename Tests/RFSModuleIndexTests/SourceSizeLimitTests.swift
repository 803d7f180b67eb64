import Foundation
import RFSTestSupport
import Testing

@testable import RFSModuleIndex

/// `maxFileBytes` (`--max-file-size`): a source file over the limit is never read, whatever its
/// size; the error names the file, its size and the limit.
@Suite("Source size limit")
struct SourceSizeLimitTests {
    /// Makes `relative` a sparse file of `size` bytes (no disk space, no time to write).
    static func sparse(_ tree: TemporaryTree, _ relative: String, size: Int64) throws {
        let path = tree.path(relative)
        FileManager.default.createFile(atPath: path, contents: nil)
        #expect(truncate(path, off_t(size)) == 0)
    }

    @Test("a module over the limit is a tooLarge error naming the file, its size and the limit")
    func overLimit() throws {
        let tree = try TemporaryTree(["small.py": "X = 1\n", "big.py": String(repeating: "#", count: 101) + "\n"])
        let index = try ModuleIndex(root: tree.root, maxFileBytes: 100)
        #expect(try index.lookup("small")?.source == "X = 1\n")
        let error = #expect(throws: ModuleIndexError.self) { try index.lookup("big") }
        #expect(error?.kind == .tooLarge)
        #expect(error?.path == tree.path("big.py"))
        #expect(error?.problem == .tooLarge(size: 102, limit: 100))
        #expect(error?.description == "\(tree.path("big.py")): 102 bytes is over the per-file limit of 100 bytes")
    }

    @Test("a file of exactly the limit is served")
    func atLimit() throws {
        let text = String(repeating: "#", count: 99) + "\n"
        let tree = try TemporaryTree(["exact.py": text, "pkg/__init__.py": text + "#\n"])
        let index = try ModuleIndex(root: tree.root, maxFileBytes: 100)
        #expect(try index.lookup("exact")?.source == text)
        // A package's __init__.py is a source file like any other.
        #expect(throws: ModuleIndexError.self) { try index.lookup("pkg") }
    }

    @Test("a 1 GiB sparse module is refused before a byte is read: the default limit, at once")
    func hugeSparseFile() throws {
        let tree = try TemporaryTree([:])
        try Self.sparse(tree, "huge.py", size: 1 << 30)
        let index = try ModuleIndex(root: tree.root)
        let started = ContinuousClock.now
        let error = #expect(throws: ModuleIndexError.self) { try index.lookup("huge") }
        // Reading (and decoding) 1 GiB takes seconds and gigabytes; a refusal takes microseconds.
        #expect(ContinuousClock.now - started < .seconds(1))
        #expect(error?.problem == .tooLarge(size: 1 << 30, limit: ModuleIndex.defaultMaxFileBytes))
        #expect(error?.detail == "1073741824 bytes (1 GiB) is over the per-file limit of 33554432 bytes (32 MiB)")
    }

    @Test("prefetching skips a module over the limit and goes on with the others")
    func prefetchSkipsOversize() throws {
        let tree = try TemporaryTree([
            "pkg/__init__.py": "", "pkg/a.py": "A = 1\n", "pkg/big.py": String(repeating: "#", count: 200) + "\n",
            "pkg/z.py": "Z = 1\n",
        ])
        let index = try ModuleIndex(root: tree.root, maxFileBytes: 100)
        #expect(index.descendants(of: "pkg", limits: .default).map(\.name) == ["pkg.a", "pkg.z"])
        // Asked for on its own, it is the error that names the file.
        #expect(throws: ModuleIndexError.self) { try index.lookup("pkg.big") }
    }

    @Test("prefetching stops at a module that does not fit the byte budget, without reading it")
    func prefetchBudget() throws {
        let tree = try TemporaryTree([
            "pkg/__init__.py": "", "pkg/a.py": "A = 1\n", "pkg/b.py": String(repeating: "#", count: 50) + "\n",
            "pkg/c.py": "C = 1\n",
        ])
        let index = try ModuleIndex(root: tree.root, maxFileBytes: 100)
        #expect(index.descendants(of: "pkg", limits: PrefetchLimits(maxModules: 10, maxBytes: 20)).map(\.name) == ["pkg.a"])
    }
}
