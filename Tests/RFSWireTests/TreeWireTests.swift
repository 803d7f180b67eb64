import RFSProtocol
import RFSWire
import Testing

/// The tree's shapes (DESIGN.md §7): manifests round-trip and refuse paths that could leave the
/// run's tree; `tree/read` params and results round-trip; base64 and the bitset are what Python's
/// `base64` and the spec's bit order say.
@Suite("Tree wire shapes")
struct TreeWireTests {
    static let sha = String(repeating: "ab", count: 32)

    @Test("a manifest round-trips inside run params, and numbers entries across roots")
    func manifestRoundTrip() throws {
        let manifest = TreeManifest(
            snapshot: "s1",
            roots: [
                .init(path: "/c/proj", kind: .script, files: [.init(path: "helper.py", size: 3, sha256: Self.sha)]),
                .init(
                    path: "/c/src", kind: .source,
                    files: [
                        .init(path: "pkg/__init__.py", size: 0, sha256: Self.sha),
                        .init(path: "pkg/_x.so", size: 9, sha256: nil),
                    ]),
            ])
        let run = RunParams(code: "import pkg", filename: "/c/proj/job.py", tree: manifest)
        #expect(try RunParams(json: run.json) == run)
        #expect(manifest.entryCount == 3)
        let host = HostRunParams(
            run: run, finishInterpreter: true,
            tree: HostTree(directory: "/cache/runs/1", store: "/cache/store", maxReplyBytes: 1 << 20, manifest: manifest))
        let decoded = try HostRunParams(json: host.json)
        #expect(decoded == host)
        #expect(decoded.run.tree == nil, "the host gets the manifest once, in its own member")
    }

    @Test(arguments: [
        ("../etc/passwd", "has an empty, '.' or '..' component"),
        ("/etc/passwd", "is absolute"),
        ("a//b", "has an empty, '.' or '..' component"),
        ("a/./b", "has an empty, '.' or '..' component"),
        ("a\\b", "contains a backslash"),
        ("", "is empty"),
    ])
    func unsafePathsAreRefused(path: String, problem: String) {
        let json: JSONValue = ["snapshot": "s", "roots": [["path": "/c", "kind": "source", "files": [[.string(path), 1, .null]]]]]
        #expect(throws: JSONRPCError.invalidParams("run 'tree' root 0: file path \(JSONValue.string(path).serialized()) \(problem)")) {
            try TreeManifest(json: json)
        }
    }

    @Test("unsorted or duplicate paths, bad sizes and bad hashes are refused")
    func malformedFiles() {
        func manifest(_ files: JSONValue) -> JSONValue {
            ["snapshot": "s", "roots": [["path": "/c", "kind": "source", "files": files]]]
        }
        #expect(throws: JSONRPCError.self) { try TreeManifest(json: manifest([["b.py", 1, .null], ["a.py", 1, .null]])) }
        #expect(throws: JSONRPCError.self) { try TreeManifest(json: manifest([["a.py", 1, .null], ["a.py", 1, .null]])) }
        #expect(throws: JSONRPCError.self) { try TreeManifest(json: manifest([["a.py", -1, .null]])) }
        #expect(throws: JSONRPCError.self) { try TreeManifest(json: manifest([["a.py", 1, "ABC"]])) }
        #expect(throws: JSONRPCError.self) { try TreeManifest(json: manifest([["a.py", 1]])) }
        #expect(throws: JSONRPCError.self) {
            try TreeManifest(json: ["snapshot": "s", "roots": [["path": "/c", "kind": "elsewhere", "files": []]]])
        }
    }

    @Test("tree/read params and results round-trip")
    func readRoundTrip() throws {
        var missing = TreeBitset(count: 20)
        missing.insert(0)
        missing.insert(9)
        missing.insert(19)
        let params = TreeReadParams(
            snapshot: "s", entries: [.init(index: 3), .init(index: 4, offset: 100)], maxBytes: 1000, missing: missing)
        #expect(try TreeReadParams(json: params.json) == params)
        #expect(params.json["entries"] == [3, [4, 100]])
        #expect(params.json["prefetch_for"] == nil)
        let continuation = TreeReadParams(snapshot: "s", entries: [], maxBytes: 1000, missing: missing, prefetchFor: [5, 6])
        #expect(try TreeReadParams(json: continuation.json) == continuation)
        #expect(continuation.json["prefetch_for"] == [5, 6])
        guard case .object(var bad) = continuation.json else { Issue.record("params are not an object"); return }
        bad["prefetch_for"] = ["five"]
        #expect(throws: JSONRPCError.self) { try TreeReadParams(json: .object(bad)) }
        // One reply's cost is bounded: a request names at most maxEntries entries.
        var tooMany = bad
        tooMany["prefetch_for"] = nil
        tooMany["entries"] = .array(Array(repeating: .int(1), count: TreeReadParams.maxEntries + 1))
        #expect(throws: JSONRPCError.self) { try TreeReadParams(json: .object(tooMany)) }
        let result = TreeReadResult(
            blobs: [.init(entry: 3, payload: .utf8("x = 1\n")), .init(entry: 4, offset: 100, payload: .base64("AAE="), more: true)],
            failed: [.init(entry: 7, message: "changed")])
        #expect(try TreeReadResult(json: result.json) == result)
        #expect(result.json["more_prefetch"] == nil)
        let cut = TreeReadResult(blobs: [], morePrefetch: true)
        #expect(try TreeReadResult(json: cut.json) == cut)
        #expect(cut.json["more_prefetch"] == true)
    }

    @Test("the bitset's bit order is the spec's (bit i: byte i/8, mask 1 << i%8)")
    func bitOrder() {
        var bits = TreeBitset(count: 10)
        bits.insert(1)
        bits.insert(8)
        #expect(bits.bytes == [0b0000_0010, 0b0000_0001])
        #expect(bits.contains(8) && !bits.contains(9) && !bits.contains(1000))
        bits.remove(8)
        #expect(bits.bytes == [0b0000_0010, 0])
    }

    @Test("base64 matches RFC 4648 test vectors and refuses what is not base64")
    func base64() {
        let vectors = ["": "", "f": "Zg==", "fo": "Zm8=", "foo": "Zm9v", "foob": "Zm9vYg==", "fooba": "Zm9vYmE=", "foobar": "Zm9vYmFy"]
        for (plain, encoded) in vectors {
            #expect(Base64.encode(Array(plain.utf8)) == encoded)
            #expect(Base64.decode(encoded) == Array(plain.utf8))
        }
        let all = (0...255).map(UInt8.init)
        #expect(Base64.decode(Base64.encode(all)) == all)
        for bad in ["Zg=", "Z===", "Zm9v!A==", "Zg==Zg==", "=AAA"] {
            #expect(Base64.decode(bad) == nil, "\(bad)")
        }
    }

    @Test("the tree offer is a quarter of the message size, between 64 KiB and 8 MiB")
    func offer() {
        #expect(TreeOffer(maxMessageSize: 64 << 20).maxReplyBytes == 8 << 20)
        #expect(TreeOffer(maxMessageSize: 4 << 20).maxReplyBytes == 1 << 20)
        #expect(TreeOffer(maxMessageSize: 1000).maxReplyBytes == 64 << 10)
        #expect(TreeOffer(json: ["max_reply_bytes": 0]) == nil)
        let capabilities = WorkerCapabilities(prefetch: nil, isolation: .run, maxRuns: 2, tree: TreeOffer(maxReplyBytes: 5))
        #expect(WorkerCapabilities(json: capabilities.json) == capabilities)
    }
}
