import NIOHTTP1
@testable import RFSTransport
import Testing

/// DESIGN.md §3 "Authentication" and the plain-HTTP endpoints.
@Suite struct AuthTests {
    static let token = "s3cret-token-0123456789"

    @Test func missingTokenIsRejectedWith401() async throws {
        try await withServer(testServerConfiguration(token: Self.token)) { server in
            await #expect {
                _ = try await connect(to: server)
            } throws: { error in
                guard case .unauthorized(let url) = error as? WebSocketTransportError else { return false }
                return url == server.url
                    && "\(error)".contains("401")
                    && "\(error)" == "401: token rejected by \(server.url)"
            }
            // The server keeps serving: the right token still works.
            let session = try await connect(to: server, token: Self.token)
            var messages = session.messages.makeAsyncIterator()
            try await session.send("authorized")
            #expect(try await messages.expectMessage() == "authorized")
            await session.close()
        }
    }

    @Test func wrongTokenIsRejectedWith401() async throws {
        try await withServer(testServerConfiguration(token: Self.token)) { server in
            for wrong in [String(Self.token.dropLast()), Self.token + "!", Self.token.uppercased(), "x"] {
                await #expect {
                    _ = try await connect(to: server, token: wrong)
                } throws: { error in
                    "\(error)".contains("401")
                }
            }
        }
    }

    @Test func rawUpgradeWithoutTokenNeverUpgrades() async throws {
        try await withServer(testServerConfiguration(token: Self.token)) { server in
            let upgradeHeaders = [
                "Upgrade: websocket",
                "Connection: Upgrade",
                "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
                "Sec-WebSocket-Version: 13",
            ]
            let missing = try await RawHTTP.get(port: server.port, path: "/v1/session", headers: upgradeHeaders)
            #expect(missing.status == 401)
            #expect(missing.header("WWW-Authenticate") == "Bearer")
            #expect(!missing.raw.contains("101"))

            let wrongScheme = try await RawHTTP.get(
                port: server.port,
                path: "/v1/session",
                headers: upgradeHeaders + ["Authorization: Basic \(Self.token)"]
            )
            #expect(wrongScheme.status == 401)

            let right = try await RawHTTP.exchange(
                port: server.port,
                request: "GET /v1/session HTTP/1.1\r\nHost: x\r\n"
                    + (upgradeHeaders + ["Authorization: bearer \(Self.token)"]).map { $0 + "\r\n" }.joined()
                    + "\r\n",
                // A masked, empty close frame so the exchange ends: the server answers and closes.
                then: [0x88, 0x80, 0, 0, 0, 0]
            )
            #expect(right.hasPrefix("HTTP/1.1 101"))
        }
    }

    @Test func healthzAnswersOkWithoutToken() async throws {
        try await withServer(testServerConfiguration(token: Self.token)) { server in
            let response = try await RawHTTP.get(port: server.port, path: "/healthz")
            #expect(response.status == 200)
            #expect(response.body == "ok")
            let head = try await RawHTTP.get(port: server.port, path: "/healthz", method: "HEAD")
            #expect(head.status == 200)
            #expect(head.body.isEmpty)
            let post = try await RawHTTP.get(port: server.port, path: "/healthz", method: "POST")
            #expect(post.status == 405)
        }
    }

    @Test func unknownPathIs404() async throws {
        try await withServer(testServerConfiguration(token: Self.token)) { server in
            for path in ["/", "/v1/session/extra", "/v2/session", "/healthz/x"] {
                let response = try await RawHTTP.get(port: server.port, path: path)
                #expect(response.status == 404, "\(path)")
            }
            // A WebSocket client pointed at the wrong path gets a precise error.
            var configuration = clientConfiguration(for: server, token: Self.token)
            configuration.url = "ws://127.0.0.1:\(server.port)/nope"
            await #expect {
                _ = try await WebSocketClient.connect(configuration: configuration, logger: testLogger)
            } throws: { error in
                guard case .upgradeFailed(_, 404, _) = error as? WebSocketTransportError else { return false }
                return "\(error)".contains("404") && "\(error)".contains("/nope")
            }
        }
    }

    @Test func sessionPathWithoutUpgradeIs426() async throws {
        try await withServer(testServerConfiguration(token: Self.token)) { server in
            let response = try await RawHTTP.get(
                port: server.port,
                path: "/v1/session",
                headers: ["Authorization: Bearer \(Self.token)"]
            )
            #expect(response.status == 426)
            let query = try await RawHTTP.get(port: server.port, path: "/v1/session?x=1")
            #expect(query.status == 401, "the query string does not change the route")
        }
    }

    @Test func badWebSocketVersionIs400() async throws {
        try await withServer { server in
            let response = try await RawHTTP.get(
                port: server.port,
                path: "/v1/session",
                headers: [
                    "Upgrade: websocket", "Connection: Upgrade",
                    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==", "Sec-WebSocket-Version: 8",
                ]
            )
            #expect(response.status == 400)
        }
    }

    @Test func noTokenServerAcceptsEveryone() async throws {
        try await withServer { server in
            let session = try await connect(to: server, token: "anything")
            await session.close()
        }
    }

    @Test func bearerTokenParsing() {
        #expect(BearerToken.token(fromAuthorization: "Bearer abc") == "abc")
        #expect(BearerToken.token(fromAuthorization: "bearer   abc  ") == "abc")
        #expect(BearerToken.token(fromAuthorization: "BEARER abc") == "abc")
        #expect(BearerToken.token(fromAuthorization: "Basic abc") == nil)
        #expect(BearerToken.token(fromAuthorization: "Bearer") == nil)
        #expect(BearerToken.token(fromAuthorization: "Bearer ") == nil)
        #expect(BearerToken.token(fromAuthorization: "Bearerabc") == nil)

        var headers = HTTPHeaders([("Authorization", "Bearer abc")])
        #expect(BearerToken.isAuthorized(headers, expected: "abc"))
        #expect(!BearerToken.isAuthorized(headers, expected: "abcd"))
        headers.add(name: "Authorization", value: "Bearer abc")
        #expect(!BearerToken.isAuthorized(headers, expected: "abc"), "two Authorization headers are refused")
        #expect(!BearerToken.isAuthorized(HTTPHeaders(), expected: "abc"))
    }

    @Test func constantTimeComparison() {
        let expected = Array("secret".utf8)
        #expect(BearerToken.constantTimeEquals(Array("secret".utf8), expected))
        #expect(!BearerToken.constantTimeEquals(Array("secreT".utf8), expected))
        #expect(!BearerToken.constantTimeEquals(Array("secret2".utf8), expected))
        #expect(!BearerToken.constantTimeEquals(Array("secre".utf8), expected))
        #expect(!BearerToken.constantTimeEquals([], expected))
        // Same prefix repeated to the expected length must not match.
        #expect(!BearerToken.constantTimeEquals(Array("sec".utf8), Array("secsec".utf8)))
    }

    @Test(arguments: [
        ("localhost", true), ("LOCALHOST", true), ("127.0.0.1", true), ("127.1.2.3", true),
        ("::1", true), ("[::1]", true), ("::ffff:127.0.0.1", true), ("0:0:0:0:0:0:0:1", true),
        ("0.0.0.0", false), ("::", false), ("10.0.0.1", false), ("128.0.0.1", false),
        ("example.com", false), ("localhost.example.com", false), ("", false), ("::2", false),
    ])
    func loopbackDetection(host: String, expected: Bool) {
        #expect(isLoopback(host: host) == expected, "\(host)")
    }
}
