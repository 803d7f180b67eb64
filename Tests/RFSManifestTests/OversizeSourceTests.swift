import Foundation
import RFSClient
import RFSManifest
import RFSModuleIndex
import RFSProtocol
import RFSTestSupport
import RFSWire
import Testing

/// `--max-file-size` on the tree path: Python source over the limit is listed (so the worker's
/// finder can say why its import fails) but never hashed, counted against `--max-tree-size`, or
/// served; and no `tree/read` costs the client more than its own reply cap, whatever the worker
/// asks for.
@Suite("Oversize source in the tree")
struct OversizeSourceTests {
    @Test("a .py over the limit is listed with a null sha and its size, and does not count against the tree size")
    func listedNotHashed() throws {
        let tree = try TemporaryTree(["small.py": "X = 1\n", "data/blob.bin": ""])
        // 2 GiB of sparse source: over the 1 GiB tree cap if it counted, seconds to hash if it were read.
        FileManager.default.createFile(atPath: tree.path("huge.py"), contents: nil)
        #expect(truncate(tree.path("huge.py"), 2 << 30) == 0)
        let started = ContinuousClock.now
        let built = try ManifestBuilder(
            roots: [ManifestRoot(index: ModuleIndex(root: tree.root), kind: .source)], cache: HashCache(path: nil)
        ).build(snapshot: "c1-1")
        #expect(ContinuousClock.now - started < .seconds(2))
        let files = built.manifest.roots[0].files
        let huge = try #require(files.first { $0.path == "huge.py" })
        #expect(huge.sha256 == nil)
        #expect(huge.size == 2 << 30)
        #expect(files.first { $0.path == "small.py" }?.sha256 != nil)
    }

    @Test("tree/read refuses the withheld file with a message naming it, its size and --max-file-size")
    func refusedWhenAsked() throws {
        let tree = try TemporaryTree(["ok.py": "import big\n", "big.py": String(repeating: "#", count: 300) + "\n"])
        let built = try ManifestBuilder(
            roots: [ManifestRoot(index: ModuleIndex(root: tree.root, maxFileBytes: 100), kind: .source)], cache: HashCache(path: nil)
        ).build(snapshot: "c1-1")
        let server = TreeServer()
        server.add(TreeSnapshot(built))
        let big = try #require(built.manifest.roots[0].files.firstIndex { $0.path == "big.py" })
        let ok = try #require(built.manifest.roots[0].files.firstIndex { $0.path == "ok.py" })
        #expect(built.manifest.roots[0].files[big].sha256 == nil)
        var missing = TreeBitset(count: 2)
        missing.insert(big)
        let result = try server.read(TreeReadParams(snapshot: "c1-1", entries: [.init(index: big), .init(index: ok)], maxBytes: 1 << 20, missing: missing))
        #expect(result.failed.map(\.entry) == [big])
        #expect(result.failed.first?.message == "\(tree.path("big.py")) (301 bytes) is over the client's per-file limit (--max-file-size); it is not served")
        // The closure walk of ok.py (which imports big) does not send it either.
        #expect(result.blobs.map(\.entry) == [ok])
    }

    @Test("a worker asking for max_bytes far over the client's reply cap gets at most the cap")
    func replyCap() throws {
        let tree = try TemporaryTree([:])
        try tree.write("pkg/data.bin", bytes: [UInt8](repeating: 7, count: 300_000))
        try tree.write("pkg/__init__.py", bytes: Array("".utf8))
        let built = try ManifestBuilder(
            roots: [ManifestRoot(index: ModuleIndex(root: tree.root), kind: .source)], cache: HashCache(path: nil)
        ).build(snapshot: "c1-1")
        let server = TreeServer(maxReplyBytes: 64 << 10)
        server.add(TreeSnapshot(built))
        let entry = try #require(built.manifest.roots[0].files.firstIndex { $0.path == "pkg/data.bin" })
        let result = try server.read(TreeReadParams(snapshot: "c1-1", entries: [.init(index: entry)], maxBytes: 1 << 40))
        let blob = try #require(result.blobs.first)
        #expect(blob.more)
        guard case .base64(let text) = blob.payload else {
            Issue.record("a chunk is base64")
            return
        }
        #expect(text.utf8.count <= 64 << 10)
    }
}
