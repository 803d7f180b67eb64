#if Deephaven
import RFSDeephaven
import Testing

@Suite struct DeephavenEndpointTests {
    @Test("http and https URLs; Deephaven's default port for http")
    func parses() throws {
        let plain = try DeephavenEndpoint(url: "http://dh.example", psk: "k")
        #expect(plain.host == "dh.example" && plain.port == 10000 && !plain.useTLS)
        let tls = try DeephavenEndpoint(url: "https://dh.example:8443/", psk: "k", caFile: "/ca.pem")
        #expect(tls.port == 8443 && tls.useTLS && tls.url == "https://dh.example:8443")
    }

    @Test(
        "bad input is refused with what was wrong",
        arguments: [
            ("ws://host:1", "k", "bad Deephaven URL 'ws://host:1': the scheme must be http or https, not ws"),
            ("host:10000", "k", "bad Deephaven URL 'host:10000': expected http://HOST[:PORT] or https://HOST[:PORT]"),
            ("http://host:1/ide", "k", "bad Deephaven URL 'http://host:1/ide': a Deephaven URL has no path (got /ide)"),
            ("http://host:1", "", "no Deephaven pre-shared key: set DEEPHAVEN_PSK or pass --psk-file FILE"),
        ])
    func refuses(url: String, psk: String, message: String) {
        #expect {
            _ = try DeephavenEndpoint(url: url, psk: psk)
        } throws: { error in
            "\(error)" == message
        }
    }
}
#endif  // Deephaven
