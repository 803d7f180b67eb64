import NIOCore
import NIOPosix
import NIOWebSocket
import RFSTransport
import Testing

/// Opening, closing and failing sessions; server shutdown and cancellation.
@Suite struct LifecycleTests {
    @Test func shutdownClosesSessionsWith1001() async throws {
        let server = try await WebSocketServer.bind(
            configuration: testServerConfiguration(),
            logger: testLogger,
            onSession: echo
        )
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await server.run() }
            var sessions: [WebSocketSession] = []
            var iterators: [WebSocketMessages.AsyncIterator] = []
            for index in 0..<3 {
                let session = try await connect(to: server)
                var messages = session.messages.makeAsyncIterator()
                // An echo proves the server registered the session before we shut down.
                try await session.send("hi \(index)")
                #expect(try await messages.expectMessage() == "hi \(index)")
                sessions.append(session)
                iterators.append(messages)
            }
            await server.shutdown()
            for index in sessions.indices {
                let end = await iterators[index].drain()
                #expect(end.error == nil, "1001 is a normal end")
                #expect(sessions[index].closeStatus?.code == .goingAway)
                #expect(sessions[index].closeStatus?.initiator == .peer)
            }
            // run() returns once every onSession returned.
            try await group.waitForAll()
            // The listener is gone.
            await #expect(throws: WebSocketTransportError.self) {
                _ = try await connect(to: server)
            }
        }
    }

    @Test func cancellingRunClosesSessionsWith1001() async throws {
        let server = try await WebSocketServer.bind(
            configuration: testServerConfiguration(),
            logger: testLogger,
            onSession: echo
        )
        let runTask = Task { try await server.run() }
        let session = try await connect(to: server)
        var messages = session.messages.makeAsyncIterator()
        try await session.send("before")
        #expect(try await messages.expectMessage() == "before")
        runTask.cancel()
        let end = await messages.drain()
        #expect(end.error == nil)
        #expect(session.closeCode == .goingAway)
        try await runTask.value
    }

    @Test func runTwiceIsRefused() async throws {
        let server = try await WebSocketServer.bind(
            configuration: testServerConfiguration(),
            logger: testLogger,
            onSession: echo
        )
        try await withThrowingTaskGroup(of: Bool.self) { group in
            for _ in 0..<2 {
                group.addTask {
                    do {
                        try await server.run()
                        return true
                    } catch WebSocketTransportError.alreadyRunning {
                        return false
                    }
                }
            }
            // Whichever call came second returns at once with the error...
            let second = try await group.next()
            #expect(second == false)
            // ...and the first serves until shutdown.
            await server.shutdown()
            let first = try await group.next()
            #expect(first == true)
        }
    }

    @Test func abruptClientDisconnectEndsServerMessages() async throws {
        let ended = Mailbox<(WebSocketCloseStatus?, Bool)>()
        let onSession: @Sendable (WebSocketSession) async -> Void = { session in
            let end = await session.drain()
            ended.post((session.closeStatus, end.error != nil))
        }
        try await withServer(onSession: onSession) { server in
            try await RawWebSocket.withConnection(port: server.port) { raw in
                try await raw.send(.text, "partial", fin: false)
                try await raw.dropConnection()
            }
            let (status, threw) = try #require(await ended.next())
            #expect(status?.code == .unknown(1006))
            #expect(status?.initiator == .transport)
            #expect(threw, "an abnormal end is reported as an error")
        }
    }

    @Test func onSessionReturningClosesWith1000() async throws {
        let onSession: @Sendable (WebSocketSession) async -> Void = { session in
            var messages = session.messages.makeAsyncIterator()
            if let message = try? await messages.next() {
                try? await session.send("bye \(message)")
            }
        }
        try await withServer(onSession: onSession) { server in
            let session = try await connect(to: server)
            var messages = session.messages.makeAsyncIterator()
            try await session.send("client")
            #expect(try await messages.expectMessage() == "bye client")
            let end = await messages.drain()
            #expect(end.error == nil)
            #expect(session.closeStatus?.code == .normalClosure)
            #expect(session.closeStatus?.initiator == .peer)
        }
    }

    @Test func clientCloseIsSeenByServer() async throws {
        let ended = Mailbox<(WebSocketCloseStatus?, Bool)>()
        let onSession: @Sendable (WebSocketSession) async -> Void = { session in
            let end = await session.drain()
            ended.post((session.closeStatus, end.error != nil))
        }
        try await withServer(onSession: onSession) { server in
            let session = try await connect(to: server)
            await session.close(code: .policyViolation, reason: "testing")
            #expect(session.closeStatus?.code == .policyViolation)
            let (status, threw) = try #require(await ended.next())
            #expect(status?.code == .policyViolation)
            #expect(status?.reason == "testing")
            #expect(status?.initiator == .peer)
            #expect(threw, "a peer's 1008 is not a normal end")
        }
    }

    @Test func sendAfterCloseThrowsClosed() async throws {
        try await withServer { server in
            let session = try await connect(to: server)
            await session.close()
            #expect(session.isClosed)
            await #expect {
                try await session.send("too late")
            } throws: { error in
                guard case .closed(let remote, let status) = error as? WebSocketTransportError else { return false }
                return remote == session.remoteDescription && status?.code == .normalClosure
            }
            await session.close()  // harmless twice
        }
    }

    @Test func slowReaderDoesNotAffectOthers() async throws {
        let flooded = Mailbox<Int>()
        let floodUnderway = Mailbox<Int>()
        let onSession: @Sendable (WebSocketSession) async -> Void = { session in
            var iterator = session.messages.makeAsyncIterator()
            guard let role = try? await iterator.next() else { return }
            if role == "flood me" {
                // Send until the connection closes; backpressure makes `send` wait meanwhile.
                let chunk = String(repeating: "f", count: 256 << 10)
                var sent = 0
                while (try? await session.send(chunk)) != nil {
                    sent += 1
                    if sent == 1 { floodUnderway.post(sent) }
                }
                flooded.post(sent)
            } else {
                try? await session.send(role)
                while let message = try? await iterator.next() {
                    try? await session.send(message)
                }
            }
        }
        try await withServer(onSession: onSession) { server in
            let slow = try await connect(to: server)
            try await slow.send("flood me")  // ...and never read.
            // The fast session works while the flood is under way (its sends held by backpressure).
            _ = try #require(await floodUnderway.next())
            let fast = try await connect(to: server)
            var messages = fast.messages.makeAsyncIterator()
            for index in 0..<20 {
                try await fast.send("fast \(index)")
                #expect(try await messages.expectMessage() == "fast \(index)")
            }
            await fast.close()
            await slow.close()
            let sent = try #require(await flooded.next())
            #expect(sent > 0)
        }
    }

    @Test func idleConnectionIsDroppedAfterHandshakeTimeout() async throws {
        try await withServer(testServerConfiguration(handshakeTimeout: .milliseconds(50))) { server in
            // Sends nothing; the exchange ends when the server drops the connection (a reset is
            // as good as a close here).
            let response = try? await RawHTTP.exchange(port: server.port, request: "")
            #expect(response?.isEmpty ?? true)
        }
    }

    @Test func connectionRefusedNamesURLAndCause() async throws {
        // A port that was just free: bind, note it, shut down.
        let port = try await withServer { server in server.port }
        let url = "ws://127.0.0.1:\(port)/v1/session"
        await #expect {
            _ = try await WebSocketClient.connect(
                configuration: WebSocketClientConfiguration(url: url),
                logger: testLogger
            )
        } throws: { error in
            guard case .connectFailed(let failedURL, let cause) = error as? WebSocketTransportError else {
                return false
            }
            return failedURL == url && cause.lowercased().contains("refused") && "\(error)".contains(url)
        }
    }

    @Test func invalidURLIsReported() async throws {
        for url in ["http://127.0.0.1:1/v1/session", "127.0.0.1:8710", "ws://:80/x", "ws://host:99999/"] {
            await #expect {
                _ = try await WebSocketClient.connect(
                    configuration: WebSocketClientConfiguration(url: url),
                    logger: testLogger
                )
            } throws: { error in
                guard case .invalidURL(let reported, _) = error as? WebSocketTransportError else { return false }
                return reported == url
            }
        }
    }

    @Test func bindFailureIsReported() async throws {
        try await withServer { server in
            var configuration = testServerConfiguration()
            configuration.port = server.port
            await #expect {
                _ = try await WebSocketServer.bind(configuration: configuration, logger: testLogger, onSession: echo)
            } throws: { error in
                guard case .bindFailed(_, let port, _) = error as? WebSocketTransportError else { return false }
                return port == server.port
            }
        }
    }
}
