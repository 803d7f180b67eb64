import NIOCore
import NIOEmbedded
import NIOWebSocket
@testable import RFSTransport
import Testing

/// The session handler alone on an `EmbeddedChannel`, with virtual time: keepalive and close
/// timeouts are checked exactly, without real clocks or sleeps.
@Suite struct WebSocketSessionHandlerTests {
    private struct Harness {
        let channel: EmbeddedChannel
        let connection: WebSocketConnectionState
        let role: WebSocketSessionHandler.Role

        var loop: EmbeddedEventLoop { self.channel.embeddedEventLoop }

        init(
            role: WebSocketSessionHandler.Role = .server,
            maxMessageSize: Int = 1024,
            pingInterval: Duration? = nil,
            pongTimeout: Duration = .seconds(3),
            closeTimeout: Duration = .seconds(5)
        ) throws {
            self.role = role
            self.connection = WebSocketConnectionState(remoteDescription: "embedded")
            let handler = WebSocketSessionHandler(
                configuration: .init(
                    role: role,
                    maxMessageSize: maxMessageSize,
                    pingInterval: pingInterval,
                    pongTimeout: pongTimeout,
                    closeTimeout: closeTimeout
                ),
                connection: self.connection,
                logger: testLogger
            )
            self.channel = EmbeddedChannel(handler: handler)
            try self.channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).wait()
        }

        /// Delivers a frame from the peer, masked as a client's would be, then asks for more
        /// input the way an application that keeps reading does.
        func receive(
            _ opcode: WebSocketOpcode,
            _ payload: ByteBuffer,
            fin: Bool = true,
            keepReading: Bool = true
        ) throws {
            let maskKey: WebSocketMaskingKey? = self.role == .server ? .random() : nil
            var data = payload
            if let maskKey {
                data.webSocketMask(maskKey)
            }
            try self.channel.writeInbound(WebSocketFrame(fin: fin, opcode: opcode, maskKey: maskKey, data: data))
            if keepReading {
                self.channel.read()
            }
        }

        func receive(_ opcode: WebSocketOpcode, _ text: String, fin: Bool = true) throws {
            try self.receive(opcode, ByteBuffer(string: text), fin: fin)
        }

        func sent() throws -> WebSocketFrame? {
            try self.channel.readOutbound(as: WebSocketFrame.self)
        }

        func closeCodeSent() throws -> UInt16? {
            guard let frame = try self.sent() else { return nil }
            #expect(frame.opcode == .connectionClose)
            return frame.unmaskedData.getInteger(at: frame.unmaskedData.readerIndex, as: UInt16.self)
        }

        func message() throws -> String? {
            try self.channel.readInbound(as: String.self)
        }
    }

    // MARK: Keepalive

    @Test func silentPeerIsDroppedAfterPongTimeout() throws {
        let harness = try Harness(pingInterval: .seconds(1), pongTimeout: .seconds(3))
        for second in 1...3 {
            harness.loop.advanceTime(by: .seconds(1))
            #expect(try harness.sent()?.opcode == .ping, "ping at \(second)s")
            #expect(harness.channel.isActive)
        }
        harness.loop.advanceTime(by: .seconds(1))  // the first ping is now 3 s old
        #expect(!harness.channel.isActive)
        #expect(harness.connection.closeStatus?.code == .unknown(1006))
        #expect(harness.connection.closeStatus?.reason.contains("pong") == true)
    }

    @Test func answeredPingsKeepTheSessionAlive() throws {
        let harness = try Harness(pingInterval: .seconds(1), pongTimeout: .seconds(3))
        for _ in 0..<100 {
            harness.loop.advanceTime(by: .seconds(1))
            let ping = try #require(try harness.sent())
            #expect(ping.opcode == .ping)
            try harness.receive(.pong, ping.unmaskedData)
        }
        #expect(harness.channel.isActive)
        #expect(harness.connection.closeStatus == nil)
    }

    @Test func anyInboundDataCountsAsAlive() throws {
        let harness = try Harness(pingInterval: .seconds(1), pongTimeout: .seconds(3))
        for index in 0..<20 {
            harness.loop.advanceTime(by: .seconds(1))
            _ = try harness.sent()
            // Never a pong, but a steady stream of messages (e.g. a pong stuck behind them).
            try harness.receive(.text, "message \(index)")
        }
        #expect(harness.channel.isActive)
    }

    @Test func pausedReadsAreNotMistakenForADeadPeer() throws {
        let harness = try Harness(pingInterval: .seconds(1), pongTimeout: .seconds(3))
        // The application stops consuming: no read is requested after this message.
        try harness.receive(.text, ByteBuffer(string: "unread"), keepReading: false)
        harness.loop.advanceTime(by: .seconds(60))
        #expect(harness.channel.isActive, "the pong may be waiting unread in the socket")
        // Reading resumes and still nothing arrives: now the peer is dead.
        harness.channel.read()
        harness.loop.advanceTime(by: .seconds(1))
        #expect(!harness.channel.isActive)
    }

    @Test func pingRequestCompletesOnMatchingPong() throws {
        let harness = try Harness()
        var answered = false
        harness.channel.pipeline.triggerUserOutboundEvent(WebSocketPingRequest())
            .assumeIsolated()
            .whenSuccess { answered = true }
        let ping = try #require(try harness.sent())
        #expect(ping.opcode == .ping)
        #expect(ping.unmaskedData.readableBytes == 8)
        try harness.receive(.pong, ByteBuffer(string: "unrelated"))
        #expect(!answered)
        try harness.receive(.pong, ping.unmaskedData)
        #expect(answered)
    }

    @Test("a peer that pings while not reading gets one pong, for its latest ping, once the channel is writable")
    func pingFloodWhileNotWritableIsAnsweredOnce() throws {
        let harness = try Harness()
        harness.channel.isWritable = false
        for number in 0..<1000 {
            try harness.receive(.ping, "ping \(number)")
        }
        // Nothing queued for a peer that is not reading, however many pings it sent.
        #expect(try harness.sent() == nil)
        harness.channel.isWritable = true
        harness.channel.pipeline.fireChannelWritabilityChanged()
        let pong = try #require(try harness.sent())
        #expect(pong.opcode == .pong)
        #expect(String(buffer: pong.unmaskedData) == "ping 999")
        #expect(try harness.sent() == nil)
    }

    @Test func pingsAreAnsweredWithTheSamePayload() throws {
        let harness = try Harness(role: .client)
        try harness.receive(.ping, "payload")
        let pong = try #require(try harness.sent())
        #expect(pong.opcode == .pong)
        #expect(pong.maskKey != nil, "client frames are masked")
        // No frame encoder here: the payload is still plain, the key says how to mask it.
        #expect(String(buffer: pong.data) == "payload")
    }

    // MARK: Messages

    @Test func fragmentsAreReassembledAroundControlFrames() throws {
        let harness = try Harness()
        try harness.receive(.text, "he", fin: false)
        try harness.receive(.ping, "x")
        try harness.receive(.continuation, "ll", fin: false)
        #expect(try harness.message() == nil)
        try harness.receive(.continuation, "o", fin: true)
        #expect(try harness.message() == "hello")
        #expect(try harness.sent()?.opcode == .pong)
    }

    @Test func reassembledMessageOverTheLimitCloses1009() throws {
        let harness = try Harness(maxMessageSize: 10)
        try harness.receive(.text, "123456", fin: false)
        try harness.receive(.continuation, "78901", fin: true)
        #expect(try harness.message() == nil)
        #expect(try harness.closeCodeSent() == 1009)
        #expect(harness.connection.closeStatus?.code == .messageTooLarge)
    }

    @Test func binaryCloses1003AndWaitsForThePeersClose() throws {
        let harness = try Harness()
        try harness.receive(.binary, ByteBuffer(bytes: [0, 1]))
        #expect(try harness.closeCodeSent() == 1003)
        #expect(harness.channel.isActive, "waits for the peer's close frame")
        try harness.receive(.text, "ignored while closing")
        #expect(try harness.message() == nil)
        var reply = ByteBuffer()
        reply.writeInteger(UInt16(1003))
        try harness.receive(.connectionClose, reply)
        #expect(!harness.channel.isActive)
    }

    @Test func invalidUTF8Closes1007() throws {
        let harness = try Harness()
        try harness.receive(.text, ByteBuffer(bytes: [0xED, 0xA0, 0x80]))  // a UTF-16 surrogate
        #expect(try harness.closeCodeSent() == 1007)
    }

    @Test func outboundTextIsMaskedOnlyByClients() throws {
        for role in [WebSocketSessionHandler.Role.server, .client] {
            let harness = try Harness(role: role)
            try harness.channel.writeOutbound(ByteBuffer(string: "out"))
            let frame = try #require(try harness.sent())
            #expect(frame.opcode == .text && frame.fin)
            #expect((frame.maskKey != nil) == (role == .client))
            #expect(String(buffer: frame.data) == "out")
        }
    }

    // MARK: Closing

    @Test func localCloseTimesOutWithoutPeerAnswer() throws {
        let harness = try Harness(closeTimeout: .seconds(5))
        harness.channel.pipeline.triggerUserOutboundEvent(
            WebSocketCloseRequest(code: .goingAway, reason: "bye"),
            promise: nil
        )
        #expect(try harness.closeCodeSent() == 1001)
        #expect(throws: (any Error).self) {
            try harness.channel.writeOutbound(ByteBuffer(string: "after close"))
        }
        harness.loop.advanceTime(by: .seconds(4))
        #expect(harness.channel.isActive)
        harness.loop.advanceTime(by: .seconds(1))
        #expect(!harness.channel.isActive)
        // This file imports NIOWebSocket too: the alias and NIO's type must not clash.
        let code: WebSocketErrorCode = .goingAway
        let expected = WebSocketCloseStatus(code: code, reason: "bye", initiator: .application)
        #expect(harness.connection.closeStatus == expected)
    }

    @Test func peerCloseIsEchoedAndRecorded() throws {
        let harness = try Harness()
        var payload = ByteBuffer()
        payload.writeInteger(UInt16(4000))
        payload.writeString("custom")
        try harness.receive(.connectionClose, payload)
        #expect(try harness.closeCodeSent() == 4000)
        #expect(!harness.channel.isActive)
        let expected = WebSocketCloseStatus(code: .unknown(4000), reason: "custom", initiator: .peer)
        #expect(harness.connection.closeStatus == expected)
    }

    @Test func invalidCloseCodeIsAProtocolError() throws {
        let harness = try Harness()
        var payload = ByteBuffer()
        payload.writeInteger(UInt16(1005))
        try harness.receive(.connectionClose, payload)
        #expect(try harness.closeCodeSent() == 1002)
    }

    @Test func droppedConnectionIsRecordedAsAbnormal() throws {
        let harness = try Harness()
        try harness.channel.close().wait()
        #expect(harness.connection.closeStatus?.code == .unknown(1006))
        #expect(harness.connection.closeStatus?.initiator == .transport)
    }
}
