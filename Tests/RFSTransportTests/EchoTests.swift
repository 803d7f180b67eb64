import NIOCore
import NIOWebSocket
import RFSTransport
import Testing

/// Messages flow both ways intact, in order, whole, at any size up to the limit.
@Suite struct EchoTests {
    @Test func echoRoundTrip() async throws {
        try await withServer { server in
            let session = try await connect(to: server)
            #expect(session.remoteDescription.hasPrefix("127.0.0.1:"))
            var messages = session.messages.makeAsyncIterator()
            try await session.send("hello")
            #expect(try await messages.expectMessage() == "hello")
            try await session.send("{\"jsonrpc\":\"2.0\",\"method\":\"ünïcödé ✓ 🐍\"}")
            #expect(try await messages.expectMessage() == "{\"jsonrpc\":\"2.0\",\"method\":\"ünïcödé ✓ 🐍\"}")
            try await session.send("")
            #expect(try await messages.expectMessage() == "")
            await session.close()
            #expect(session.closeStatus?.code == .normalClosure)
            #expect(session.closeStatus?.initiator == .application)
            let end = await messages.drain()
            #expect(end.error == nil)
        }
    }

    @Test func manyMessagesArriveInOrder() async throws {
        let count = 2000
        try await withServer { server in
            try await WebSocketClient.withSession(
                configuration: clientConfiguration(for: server), eventLoopGroup: TestLoops.group, logger: testLogger
            ) {
                session in
                try await withThrowingTaskGroup(of: Void.self) { group in
                    group.addTask {
                        for index in 0..<count {
                            try await session.send("message \(index)")
                        }
                    }
                    var messages = session.messages.makeAsyncIterator()
                    for index in 0..<count {
                        #expect(try await messages.expectMessage() == "message \(index)")
                    }
                    try await group.waitForAll()
                }
            }
        }
    }

    @Test func concurrentSendsStayWhole() async throws {
        let senders = 4
        let perSender = 25
        try await withServer { server in
            let session = try await connect(to: server)
            try await withThrowingTaskGroup(of: Void.self) { group in
                for sender in 0..<senders {
                    group.addTask {
                        // Large enough to span many TCP segments, so interleaving would show.
                        let filler = String(repeating: Character(UnicodeScalar(UInt8(65 + sender))), count: 100_000)
                        for index in 0..<perSender {
                            try await session.send("\(sender):\(index):\(filler)")
                        }
                    }
                }
                var messages = session.messages.makeAsyncIterator()
                var nextIndex = Array(repeating: 0, count: senders)
                for _ in 0..<(senders * perSender) {
                    let message = try await messages.expectMessage()
                    let parts = message.split(separator: ":", maxSplits: 2)
                    let sender = try #require(Int(parts[0]))
                    #expect(Int(parts[1]) == nextIndex[sender], "per-sender order is kept")
                    nextIndex[sender] += 1
                    let letter = Character(UnicodeScalar(UInt8(65 + sender)))
                    #expect(parts[2].count == 100_000 && parts[2].allSatisfy { $0 == letter })
                }
                try await group.waitForAll()
            }
            await session.close()
        }
    }

    @Test func fiveMiBMessageRoundTrip() async throws {
        let big = String(repeating: "0123456789abcdef", count: (5 << 20) / 16) + "🐍"
        try await withServer { server in
            let session = try await connect(to: server)
            var messages = session.messages.makeAsyncIterator()
            try await session.send(big)
            let echoed = try await messages.expectMessage()
            #expect(echoed.utf8.count == big.utf8.count)
            #expect(echoed == big)
            await session.close()
        }
    }

    @Test func fragmentedMessageIsReassembled() async throws {
        try await withServer { server in
            try await RawWebSocket.withConnection(port: server.port) { raw in
                try await raw.send(.text, "hello ", fin: false)
                // Control frames may arrive between fragments (RFC 6455 §5.4).
                try await raw.send(.ping, "between")
                try await raw.send(.continuation, "fragmented ", fin: false)
                try await raw.send(.continuation, "wörld", fin: true)
                let pong = try #require(try await raw.nextFrame())
                #expect(pong.opcode == .pong)
                #expect(String(buffer: pong.unmaskedData) == "between")
                #expect(try await raw.expectText() == "hello fragmented wörld")
            }
        }
    }

    @Test func fiveMiBInManyFragmentsIsReassembled() async throws {
        let chunk = String(repeating: "x", count: 64 << 10)
        let chunks = 80  // 5 MiB
        try await withServer { server in
            try await RawWebSocket.withConnection(port: server.port) { raw in
                for index in 0..<chunks {
                    let opcode: WebSocketOpcode = index == 0 ? .text : .continuation
                    try await raw.send(opcode, chunk, fin: index == chunks - 1)
                }
                let echoed = try await raw.expectText()
                #expect(echoed.utf8.count == chunks * chunk.utf8.count)
            }
        }
    }

    @Test func serverSessionCanSendFirst() async throws {
        let onSession: @Sendable (WebSocketSession) async -> Void = { session in
            try? await session.send("welcome")
            _ = await session.drain()
        }
        try await withServer(onSession: onSession) { server in
            let session = try await connect(to: server)
            var messages = session.messages.makeAsyncIterator()
            #expect(try await messages.expectMessage() == "welcome")
            await session.close()
        }
    }

    @Test func withSessionClosesAfterBody() async throws {
        let ended = Mailbox<WebSocketCloseStatus?>()
        let onSession: @Sendable (WebSocketSession) async -> Void = { session in
            await echo(session)
            ended.post(session.closeStatus)
        }
        try await withServer(onSession: onSession) { server in
            let reply = try await WebSocketClient.withSession(
                configuration: clientConfiguration(for: server),
                eventLoopGroup: TestLoops.group,
                logger: testLogger
            ) { session in
                var messages = session.messages.makeAsyncIterator()
                try await session.send("ping?")
                return try await messages.expectMessage()
            }
            #expect(reply == "ping?")
            let status = try #require(await ended.next())
            #expect(status?.code == .normalClosure)
            #expect(status?.initiator == .peer)
        }
    }
}
