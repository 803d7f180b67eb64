import Synchronization
@testable import RFSTransport
import Testing

/// `GET /metrics` (issue 10): the configured text behind the token on the main listener, and
/// without one on a metrics-only listener, which serves no sessions.
@Suite struct MetricsRouteTests {
    static let token = "metrics-route-token"
    static let page = "# TYPE rfs_sessions_open gauge\nrfs_sessions_open 3\n"

    @Test("the main listener answers /metrics with the provider's text only with the bearer token")
    func metricsNeedTheToken() async throws {
        let renders = Atomic<Int>(0)
        var configuration = testServerConfiguration(token: Self.token)
        configuration.metrics = {
            renders.add(1, ordering: .relaxed)
            return Self.page
        }
        try await withServer(configuration) { server in
            let missing = try await RawHTTP.get(port: server.port, path: "/metrics")
            #expect(missing.status == 401)
            #expect(missing.header("WWW-Authenticate") == "Bearer")
            #expect(!missing.body.contains("rfs_sessions_open"))
            let wrong = try await RawHTTP.get(port: server.port, path: "/metrics", headers: ["Authorization: Bearer nope"])
            #expect(wrong.status == 401)
            // Refused requests never render the page.
            #expect(renders.load(ordering: .relaxed) == 0)

            let right = try await RawHTTP.get(port: server.port, path: "/metrics", headers: ["Authorization: Bearer \(Self.token)"])
            #expect(right.status == 200)
            #expect(right.body == Self.page)
            #expect(right.header("Content-Type") == "text/plain; version=0.0.4; charset=utf-8")
            #expect(right.header("Content-Length") == String(Self.page.utf8.count))
            #expect(renders.load(ordering: .relaxed) == 1)

            let post = try await RawHTTP.get(
                port: server.port, path: "/metrics", headers: ["Authorization: Bearer \(Self.token)"], method: "POST")
            #expect(post.status == 405)
        }
    }

    @Test("without a provider /metrics is 404, token or not")
    func noProviderNoPage() async throws {
        try await withServer(testServerConfiguration(token: Self.token)) { server in
            let response = try await RawHTTP.get(port: server.port, path: "/metrics", headers: ["Authorization: Bearer \(Self.token)"])
            #expect(response.status == 404)
        }
    }

    @Test("a metrics-only listener serves /metrics without a token and refuses sessions with 404")
    func metricsOnlyListener() async throws {
        let configuration = WebSocketServerConfiguration.metricsOnly(host: "127.0.0.1", port: 0) { Self.page }
        try await withServer(configuration) { server in
            #expect(server.url == "http://127.0.0.1:\(server.port)/metrics")
            let page = try await RawHTTP.get(port: server.port, path: "/metrics")
            #expect(page.status == 200)
            #expect(page.body == Self.page)
            let upgrade = try await RawHTTP.get(
                port: server.port, path: "/v1/session",
                headers: [
                    "Upgrade: websocket", "Connection: Upgrade", "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
                    "Sec-WebSocket-Version: 13",
                ])
            #expect(upgrade.status == 404)
            #expect(!upgrade.raw.contains("101"))
            #expect(try await RawHTTP.get(port: server.port, path: "/healthz").status == 200)
        }
    }
}
