import NIOCore
import NIOWebSocket
import RFSTransport
import Testing

/// Pings are answered automatically on both sides; the server's keepalive drops silent peers.
/// No test depends on timing: each waits for the event itself (a pong, a closed connection).
@Suite struct KeepaliveTests {
    @Test func clientAnswersServerPing() async throws {
        let answered = Mailbox<Bool>()
        let onSession: @Sendable (WebSocketSession) async -> Void = { session in
            do {
                try await session.ping()
                answered.post(true)
            } catch {
                answered.post(false)
            }
            _ = await session.drain()
        }
        try await withServer(onSession: onSession) { server in
            let session = try await connect(to: server)
            #expect(await answered.next() == true)
            await session.close()
        }
    }

    @Test func serverAnswersClientPing() async throws {
        try await withServer { server in
            let session = try await connect(to: server)
            for _ in 0..<3 {
                try await session.ping()
            }
            await session.close()
            await #expect(throws: WebSocketTransportError.self) {
                try await session.ping()
            }
        }
    }

    @Test func answeredKeepalivePingsKeepTheSessionOpen() async throws {
        let configuration = testServerConfiguration(pingInterval: .milliseconds(20))
        try await withServer(configuration) { server in
            try await RawWebSocket.withConnection(port: server.port) { raw in
                // Answer several keepalive pings by hand, like any client must.
                var pings = 0
                while pings < 4 {
                    let frame = try #require(try await raw.nextFrame())
                    #expect(frame.opcode == .ping)
                    try await raw.send(.pong, frame.unmaskedData)
                    pings += 1
                }
                try await raw.send(.text, "alive")
                #expect(try await raw.expectText() == "alive")
            }
        }
    }

    @Test func ourClientKeepsTheSessionAliveAcrossPingIntervals() async throws {
        let configuration = testServerConfiguration(pingInterval: .milliseconds(10))
        let pongs = Mailbox<Bool>()
        let onSession: @Sendable (WebSocketSession) async -> Void = { session in
            // Several keepalive intervals pass while the server waits for its own pings, all
            // answered by the client's handler without any application traffic.
            var ok = true
            for _ in 0..<5 {
                do { try await session.ping() } catch { ok = false }
            }
            pongs.post(ok && !session.isClosed)
            await echo(session)
        }
        try await withServer(configuration, onSession: onSession) { server in
            let session = try await connect(to: server)
            #expect(await pongs.next() == true)
            var messages = session.messages.makeAsyncIterator()
            try await session.send("still open")
            #expect(try await messages.expectMessage() == "still open")
            await session.close()
        }
    }

    @Test func silentPeerIsDropped() async throws {
        let configuration = testServerConfiguration(pingInterval: .milliseconds(20), pongTimeout: .milliseconds(40))
        let ended = Mailbox<(WebSocketCloseStatus?, String?)>()
        let onSession: @Sendable (WebSocketSession) async -> Void = { session in
            let end = await session.drain()
            ended.post((session.closeStatus, end.error.map { "\($0)" }))
        }
        try await withServer(configuration, onSession: onSession) { server in
            try await RawWebSocket.withConnection(port: server.port) { raw in
                // Read (so the server's pings get through) but never answer. (How many pings
                // this side sees before the drop depends on scheduling, so it is not checked.)
                while (try? await raw.nextFrame()) != nil {}
            }
            let (status, error) = try #require(await ended.next())
            #expect(status?.code == .unknown(1006))
            #expect(status?.reason.contains("pong") == true)
            #expect(error?.contains("pong") == true)
        }
    }
}
