import NIOCore
import NIOWebSocket
import RFSTransport
import Testing

/// Protocol violations close only the offending session, with the close code RFC 6455 and
/// DESIGN.md §3 ask for; the server keeps serving everyone else.
@Suite struct LimitTests {
    /// Another client still gets its echo: the server survived.
    private func expectServerStillServes(_ server: WebSocketServer) async throws {
        let other = try await connect(to: server)
        var messages = other.messages.makeAsyncIterator()
        try await other.send("still there?")
        #expect(try await messages.expectMessage() == "still there?")
        await other.close()
    }

    @Test func overLimitMessageClosesWith1009() async throws {
        try await withServer(testServerConfiguration(maxMessageSize: 1024)) { server in
            let session = try await connect(to: server, maxMessageSize: 1 << 20)
            var messages = session.messages.makeAsyncIterator()
            try await session.send(String(repeating: "a", count: 1024))
            #expect(try await messages.expectMessage().count == 1024, "exactly the limit is fine")
            try await session.send(String(repeating: "b", count: 1025))
            let end = await messages.drain()
            let error = try #require(end.error as? WebSocketTransportError)
            guard case .closed(_, let status) = error else {
                Issue.record("expected .closed, got \(error)")
                return
            }
            #expect(status?.code == .messageTooLarge)
            #expect(status?.initiator == .peer)
            #expect(error.description.contains("1009"))
            try await expectServerStillServes(server)
        }
    }

    @Test func overLimitFragmentedMessageClosesWith1009() async throws {
        try await withServer(testServerConfiguration(maxMessageSize: 1000)) { server in
            let code = try await RawWebSocket.withConnection(port: server.port) { raw in
                try await raw.send(.text, String(repeating: "a", count: 600), fin: false)
                try await raw.send(.continuation, String(repeating: "b", count: 600), fin: true)
                return try await raw.expectClose()
            }
            #expect(code == 1009)
            try await expectServerStillServes(server)
        }
    }

    @Test func binaryFrameClosesWith1003() async throws {
        let ended = Mailbox<WebSocketCloseStatus?>()
        let onSession: @Sendable (WebSocketSession) async -> Void = { session in
            await echo(session)
            ended.post(session.closeStatus)
        }
        try await withServer(onSession: onSession) { server in
            let code = try await RawWebSocket.withConnection(port: server.port) { raw in
                try await raw.send(.binary, ByteBuffer(bytes: [1, 2, 3]))
                return try await raw.expectClose()
            }
            #expect(code == 1003)
            let status = try #require(await ended.next())
            #expect(status?.code == .unacceptableData)
            #expect(status?.initiator == .transport)
            try await expectServerStillServes(server)
        }
    }

    @Test func invalidUTF8ClosesWith1007() async throws {
        try await withServer { server in
            let code = try await RawWebSocket.withConnection(port: server.port) { raw in
                try await raw.send(.text, ByteBuffer(bytes: [0x68, 0x69, 0xC3, 0x28]))
                return try await raw.expectClose()
            }
            #expect(code == 1007)
            try await expectServerStillServes(server)
        }
    }

    @Test func unmaskedClientFrameClosesWith1002() async throws {
        try await withServer { server in
            let code = try await RawWebSocket.withConnection(port: server.port) { raw in
                try await raw.send(.text, ByteBuffer(string: "naked"), masked: false)
                return try await raw.expectClose()
            }
            #expect(code == 1002)
        }
    }

    @Test func strayContinuationClosesWith1002() async throws {
        try await withServer { server in
            let code = try await RawWebSocket.withConnection(port: server.port) { raw in
                try await raw.send(.continuation, "orphan")
                return try await raw.expectClose()
            }
            #expect(code == 1002)
        }
    }

    @Test func clientEnforcesItsOwnLimit() async throws {
        let onSession: @Sendable (WebSocketSession) async -> Void = { session in
            try? await session.send(String(repeating: "z", count: 2048))
            _ = await session.drain()
        }
        try await withServer(onSession: onSession) { server in
            let session = try await connect(to: server, maxMessageSize: 1024)
            let end = await session.drain()
            #expect(end.count == 0)
            #expect(session.closeCode == .messageTooLarge)
            #expect(session.closeStatus?.initiator == .transport)
            #expect(end.error != nil)
        }
    }

    @Test func sendOverLocalLimitThrowsWithoutClosing() async throws {
        try await withServer { server in
            let session = try await connect(to: server, maxMessageSize: 100)
            await #expect {
                try await session.send(String(repeating: "x", count: 101))
            } throws: { error in
                guard case .messageTooLarge(101, 100) = error as? WebSocketTransportError else { return false }
                return true
            }
            var messages = session.messages.makeAsyncIterator()
            try await session.send("small")
            #expect(try await messages.expectMessage() == "small")
            await session.close()
        }
    }

    @Test func invalidLimitIsRejected() async throws {
        await #expect(throws: WebSocketTransportError.self) {
            _ = try await WebSocketServer.bind(
                configuration: testServerConfiguration(maxMessageSize: 0),
                logger: testLogger,
                onSession: echo
            )
        }
    }
}
