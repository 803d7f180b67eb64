import Testing
import RFSProtocol

/// Module sources travel as one reply each and can be megabytes: they must survive the trip
/// exactly, and the codec must not be pathologically slow on them.
@Suite("Large messages")
struct LargeMessageTests {
    /// About 4 MB of Python-like source full of what needs escaping: quotes, backslashes,
    /// newlines, tabs, and non-ASCII text.
    static let source: String = {
        let line = "    def méthode(self, x: \"str\" = 'a\\\\b') -> None:  # ünïcødé 😀\n\treturn x + \"\\n\"\r\n"
        return String(repeating: line, count: 4_000_000 / line.utf8.count + 1)
    }()

    @Test("a 4 MB module source survives encode → decode exactly (sanity benchmark, not timed)")
    func codecRoundTrip() throws {
        let response = JSONRPCResponse(id: 1, result: [
            "name": "pkg.mod", "origin": "/home/u/src/pkg/mod.py", "is_package": false,
            "submodule_search_locations": nil, "source": .string(Self.source),
        ])
        let clock = ContinuousClock()
        var text = ""
        let encoding = clock.measure { text = response.serialized() }
        var decoded: JSONRPCInbound?
        let decoding = clock.measure { decoded = JSONRPCDecoder.decode(text) }
        #expect(decoded == .single(.success(.response(response))))
        // Reported for humans reading the test log; deliberately not asserted.
        let megabytes = Double(text.utf8.count) / 1_000_000
        print("LargeMessageTests: \(megabytes) MB reply encoded in \(encoding), decoded in \(decoding)")
    }

    @Test("a 4 MB reply crosses a pair of peers intact")
    func throughPeers() async throws {
        let (worker, client) = JSONRPCPeer.makePair(leftLabel: "worker", rightLabel: "client")
        await client.register("fetch_module") { request in
            ["name": request.params?["module_name"] ?? nil, "source": .string(Self.source)]
        }
        let reply = try await worker.request("fetch_module", params: ["module_name": "pkg.mod"])
        #expect(reply["source"]?.stringValue == Self.source)
        await worker.close(reason: "test over")
    }
}
