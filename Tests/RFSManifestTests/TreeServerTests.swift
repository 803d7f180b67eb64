import RFSClient
import RFSManifest
import RFSModuleIndex
import RFSProtocol
import RFSWire
import RFSTestSupport
import Testing

@Suite("tree/read server")
struct TreeServerTests {
    struct Fixture {
        let tree: TemporaryTree
        let server: TreeServer
        let snapshot: TreeSnapshot
        var manifest: TreeManifest { snapshot.built.manifest }

        init(_ files: [String: String], binary: [String: [UInt8]] = [:]) throws {
            tree = try TemporaryTree(files)
            for (path, bytes) in binary { try tree.write(path, bytes: bytes) }
            let built = try ManifestBuilder(
                roots: [ManifestRoot(index: ModuleIndex(root: tree.root), kind: .source)], cache: HashCache(path: nil)
            ).build(snapshot: "c1-1")
            snapshot = TreeSnapshot(built)
            server = TreeServer()
            server.add(snapshot)
        }

        func index(_ path: String) -> Int {
            manifest.roots[0].files.firstIndex { $0.path == path }!
        }

        func allMissing() -> TreeBitset {
            var bits = TreeBitset(count: snapshot.entryCount)
            for index in 0..<snapshot.entryCount { bits.insert(index) }
            return bits
        }
    }

    @Test("a blob bigger than max_bytes comes in base64 chunks with offset and more")
    func chunks() throws {
        let bytes = (0..<10_000).map { UInt8($0 % 251) }
        let fixture = try Fixture([:], binary: ["big.py": bytes])
        let entry = fixture.index("big.py")
        var received: [UInt8] = []
        var offset: Int64 = 0
        var replies = 0
        while true {
            let result = try fixture.server.read(
                TreeReadParams(snapshot: "c1-1", entries: [.init(index: entry, offset: offset)], maxBytes: 4096 + 64))
            replies += 1
            let blob = try #require(result.blobs.first)
            #expect(blob.entry == entry && blob.offset == offset)
            guard case .base64(let text) = blob.payload else {
                Issue.record("chunks are base64")
                return
            }
            #expect(text.utf8.count <= 4096 + 64)
            let chunk = try #require(Base64.decode(text))
            received += chunk
            offset += Int64(chunk.count)
            if !blob.more { break }
        }
        #expect(received == bytes)
        #expect(replies == 4)  // 3 KiB per reply: 10,000 bytes take four
    }

    @Test("valid UTF-8 travels as utf8, anything else as base64")
    func encodings() throws {
        let fixture = try Fixture(["text.py": "print('héllo')\n"], binary: ["pkg/__init__.py": [], "pkg/raw.bin": [0xff, 0xfe, 0x00]])
        let result = try fixture.server.read(
            TreeReadParams(snapshot: "c1-1", entries: [.init(index: fixture.index("text.py")), .init(index: fixture.index("pkg/raw.bin"))], maxBytes: 1 << 20))
        #expect(result.blobs.map(\.payload) == [.utf8("print('héllo')\n"), .base64(Base64.encode([0xff, 0xfe, 0x00]))])
        #expect(result.failed.isEmpty)
    }

    @Test("prefetch: the requested module's import closure, only missing entries, only whole blobs within the budget")
    func prefetch() throws {
        let fixture = try Fixture([
            "app.py": "import lib\nimport big\nimport small\n",
            "lib/__init__.py": "from . import a, b\n", "lib/a.py": "A = 1\n", "lib/b.py": "B = 2\n", "lib/data.txt": "d",
            "big.py": String(repeating: "#", count: 5000), "small.py": "s = 1\n", "unrelated.py": "",
        ])
        var missing = fixture.allMissing()
        missing.remove(fixture.index("lib/a.py"))  // the worker has it
        let result = try fixture.server.read(
            TreeReadParams(snapshot: "c1-1", entries: [.init(index: fixture.index("app.py"))], maxBytes: 200, missing: missing))
        let paths = result.blobs.map { blob in fixture.manifest.roots[0].files[blob.entry].path }
        #expect(paths == ["app.py", "lib/__init__.py", "lib/data.txt", "lib/b.py", "small.py"])
        #expect(result.blobs.allSatisfy { !$0.more && $0.offset == 0 })
        #expect(result.morePrefetch)  // big.py did not fit: the worker may continue in the background
        // Without a missing bitset nothing is prefetched.
        let plain = try fixture.server.read(TreeReadParams(snapshot: "c1-1", entries: [.init(index: fixture.index("app.py"))], maxBytes: 200))
        #expect(plain.blobs.count == 1)
    }

    @Test("prefetch_for continues a closure without sending its anchor; the first request also carries the script's imports")
    func continuationAndScriptImports() throws {
        let fixture = try Fixture([
            "app.py": "import lib\nimport small\n", "lib/__init__.py": "from . import a\n", "lib/a.py": "A = 1\n",
            "small.py": "s = 1\n", "other.py": "", "script_dep.py": "import other\n",
        ])
        var missing = fixture.allMissing()
        missing.remove(fixture.index("app.py"))  // the anchor: the worker has it, and imports it now
        let continued = try fixture.server.read(
            TreeReadParams(snapshot: "c1-1", entries: [], maxBytes: 1000, missing: missing, prefetchFor: [fixture.index("app.py")]))
        let paths = continued.blobs.map { fixture.manifest.roots[0].files[$0.entry].path }
        #expect(paths == ["lib/__init__.py", "lib/a.py", "small.py"])
        #expect(!continued.morePrefetch)

        let built = fixture.snapshot.built
        let withScript = TreeSnapshot(built, scriptImports: ["script_dep"])
        let server = TreeServer()
        server.add(withScript)
        let request = TreeReadParams(
            snapshot: "c1-1", entries: [.init(index: fixture.index("small.py"))], maxBytes: 1000, missing: fixture.allMissing())
        let first = try server.read(request).blobs.map { fixture.manifest.roots[0].files[$0.entry].path }
        let second = try server.read(request).blobs.map { fixture.manifest.roots[0].files[$0.entry].path }
        #expect(first == ["small.py", "script_dep.py", "other.py"])
        #expect(second == ["small.py"])
        #expect(withScript.served.requests == 2 && withScript.served.files == 4 && withScript.served.prefetched == 2)
    }

    @Test("a file changed since the manifest is a failed entry naming the client path")
    func changedFile() throws {
        let fixture = try Fixture(["m.py": "one\n", "n.py": "two\n"])
        try fixture.tree.write("m.py", "ONE\n")
        let result = try fixture.server.read(
            TreeReadParams(snapshot: "c1-1", entries: [.init(index: fixture.index("m.py")), .init(index: fixture.index("n.py"))], maxBytes: 1024))
        #expect(result.failed == [.init(entry: fixture.index("m.py"), message: "\(fixture.tree.root)/m.py changed on the client since the run started")])
        #expect(result.blobs.map(\.payload) == [.utf8("two\n")])
    }

    @Test("an unknown snapshot or entry index is -32602")
    func badRequests() throws {
        let fixture = try Fixture(["m.py": ""])
        #expect {
            try fixture.server.read(TreeReadParams(snapshot: "nope", entries: [.init(index: 0)], maxBytes: 10))
        } throws: { ($0 as? JSONRPCError)?.code == JSONRPCError.invalidParams }
        #expect {
            try fixture.server.read(TreeReadParams(snapshot: "c1-1", entries: [.init(index: 5)], maxBytes: 10))
        } throws: { ($0 as? JSONRPCError)?.code == JSONRPCError.invalidParams }
    }

    @Test("the async handler answers from the thread pool with the wire shape")
    func handler() async throws {
        let fixture = try Fixture(["m.py": "x = 1\n"])
        let reply = try await fixture.server.handle(
            TreeReadParams(snapshot: "c1-1", entries: [.init(index: 0)], maxBytes: 100).json)
        #expect(try TreeReadResult(json: reply).blobs == [TreeBlob(entry: 0, payload: .utf8("x = 1\n"))])
    }
}
