@testable import RFSTransport
import Testing

@Suite struct WebSocketURLTests {
    @Test func parsesPlainAndSecureURLs() throws {
        let plain = try WebSocketURL(parsing: "ws://127.0.0.1:8710/v1/session")
        #expect(!plain.isSecure)
        #expect(plain.host == "127.0.0.1")
        #expect(plain.port == 8710)
        #expect(plain.requestTarget == "/v1/session")
        #expect(plain.hostHeader == "127.0.0.1:8710")

        let secure = try WebSocketURL(parsing: "WSS://worker.example.com/v1/session?x=1#frag")
        #expect(secure.isSecure)
        #expect(secure.port == 443)
        #expect(secure.requestTarget == "/v1/session?x=1")
        #expect(secure.hostHeader == "worker.example.com")

        let v6 = try WebSocketURL(parsing: "ws://[::1]:9000")
        #expect(v6.host == "::1")
        #expect(v6.port == 9000)
        #expect(v6.requestTarget == "/")
        #expect(v6.hostHeader == "[::1]:9000")
    }

    @Test(arguments: ["http://h/x", "h:1/x", "ws://", "ws://h:0/", "ws://h:abc/", "ws://[::1/", "ws://u:p@h/"])
    func rejectsInvalidURLs(_ url: String) {
        #expect(throws: WebSocketTransportError.self) {
            try WebSocketURL(parsing: url)
        }
    }

    @Test func closeStatusDescription() {
        let status = WebSocketCloseStatus(code: .messageTooLarge, reason: "too big", initiator: .peer)
        #expect(status.description == "closed by peer with 1009 (message too big: too big)")
        #expect(!status.isNormal)
        #expect(WebSocketCloseStatus(code: .goingAway, reason: "", initiator: .peer).isNormal)
        #expect(WebSocketCloseStatus(code: .protocolError, reason: "", initiator: .application).isNormal)
    }

    @Test func closeCodeTypeIsNameableFromThisModule() {
        // This file imports RFSTransport only; the alias must be enough.
        let code: WebSocketErrorCode = .goingAway
        #expect(UInt16(webSocketErrorCode: code) == 1001)
    }

    @Test func utf8Helpers() {
        #expect(truncateUTF8("héllo", maxBytes: 2) == "h")
        #expect(truncateUTF8("héllo", maxBytes: 3) == "hé")
        #expect(truncateUTF8("short", maxBytes: 123) == "short")
        #expect(isValidCloseCode(1000) && isValidCloseCode(4000) && !isValidCloseCode(1005) && !isValidCloseCode(999))
    }
}
