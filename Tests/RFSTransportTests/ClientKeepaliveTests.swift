import NIOCore
import RFSTransport
import Testing

/// The client pings too: a server that stops answering (here: its application stopped reading,
/// so its socket is no longer read and no pong can come back) is dropped after the client's pong
/// timeout, and the close status says how long the server was silent.
@Suite struct ClientKeepaliveTests {
    @Test func ourClientDropsAServerThatStopsAnswering() async throws {
        let release = Mailbox<Bool>()
        let onSession: @Sendable (WebSocketSession) async -> Void = { _ in
            // Never reads: once a few messages are buffered the channel stops reading the socket.
            _ = await release.next()
        }
        try await withServer(onSession: onSession) { server in
            var configuration = clientConfiguration(for: server)
            configuration.pingInterval = .milliseconds(20)
            configuration.pongTimeout = .milliseconds(200)
            let session = try await WebSocketClient.connect(configuration: configuration, logger: testLogger)
            for number in 0..<200 {
                try await session.send("message \(number)")
            }
            var silence: Duration?
            do {
                for try await _ in session.messages {}
            } catch WebSocketTransportError.closed(_, let status?) {
                silence = status.silence
            }
            release.post(true)
            let measured = try #require(silence, "the session ended through the keepalive")
            #expect(measured >= .milliseconds(200))
            await session.close()
        }
    }

    @Test func keepaliveSettingsAreValidated() async throws {
        try await withServer { server in
            var configuration = clientConfiguration(for: server)
            configuration.pingInterval = .zero
            await #expect(throws: WebSocketTransportError.self) {
                _ = try await WebSocketClient.connect(configuration: configuration, logger: testLogger)
            }
            configuration.pingInterval = nil
            configuration.pongTimeout = .zero
            await #expect(throws: WebSocketTransportError.self) {
                _ = try await WebSocketClient.connect(configuration: configuration, logger: testLogger)
            }
        }
    }
}
