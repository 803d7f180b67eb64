import Logging
import NIOCore
import NIOWebSocket

/// Asks the session handler to start the close handshake. A user outbound event rather than an
/// outbound message so that it takes effect at once instead of queueing behind application
/// writes that are waiting for the peer to read.
struct WebSocketCloseRequest: Sendable {
    var code: WebSocketErrorCode
    var reason: String
}

/// Asks the session handler to send a ping; the event's promise completes when the pong arrives.
struct WebSocketPingRequest: Sendable {}

/// The WebSocket protocol rules for one connection, between NIO's frame codec and the
/// `NIOAsyncChannel` the session reads from (RFC 6455; DESIGN.md §3 "Transport"):
///
/// - reassembles fragmented text messages and emits each whole message as a `String`; binary
///   frames close with 1003, messages over the limit with 1009, invalid UTF-8 with 1007, other
///   violations (unmasked client frames, reserved bits, stray continuations) with 1002;
/// - answers pings, sends keepalive pings and drops a peer that stops answering;
/// - runs the close handshake in both directions and records why the session ended in the
///   shared `WebSocketConnectionState`;
/// - turns outbound `ByteBuffer`s (UTF-8 text) into text frames, masked on the client side.
///
/// All state lives on the channel's event loop; nothing here blocks or waits.
final class WebSocketSessionHandler: ChannelDuplexHandler {
    typealias InboundIn = WebSocketFrame
    typealias InboundOut = String
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = WebSocketFrame

    enum Role: Sendable {
        case server
        case client
    }

    struct Configuration: Sendable {
        var role: Role
        var maxMessageSize: Int
        var pingInterval: Duration?
        var pongTimeout: Duration
        var closeTimeout: Duration
    }

    private enum CloseState {
        /// Messages flow both ways.
        case open
        /// We sent a close frame and drain input until the peer's close frame, EOF or the timeout.
        case closeSent
        /// The handshake is over (or was skipped); the channel is closing.
        case closed
    }

    private let configuration: Configuration
    private let connection: WebSocketConnectionState
    private let logger: Logger

    private var closeState = CloseState.open
    /// The text message being reassembled from fragments, if any.
    private var partialMessage: ByteBuffer?
    private var closeTimeoutTask: Scheduled<Void>?
    private var keepaliveTask: Scheduled<Void>?
    /// When the oldest keepalive ping still waiting for a pong went out.
    private var unansweredPingSince: NIODeadline?
    /// When bytes last arrived: a peer busy sending a large message is alive even though its
    /// pong is queued behind that message.
    private var lastInbound: NIODeadline?
    /// Whether a read is outstanding. When the application stops consuming messages, the
    /// `NIOAsyncChannel` withholds reads (backpressure) and a pong cannot arrive; such a session
    /// is not dead, so the keepalive does not count missing pongs while reads are paused. The
    /// channel issued a read before this handler was added, hence `true`.
    private var readRequested = true
    private var nextPingID: UInt64 = 0
    /// Promises of `WebSocketSession.ping()` calls, by ping payload.
    private var pingWaiters: [UInt64: EventLoopPromise<Void>] = [:]
    /// The payload of the latest ping received while the channel was not writable, answered
    /// when it becomes writable again.
    private var pendingPong: ByteBuffer?

    init(configuration: Configuration, connection: WebSocketConnectionState, logger: Logger) {
        self.configuration = configuration
        self.connection = connection
        self.logger = logger
    }

    // MARK: Lifecycle

    func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive {
            self.scheduleKeepalive(context: context)
        }
    }

    func channelActive(context: ChannelHandlerContext) {
        self.scheduleKeepalive(context: context)
        context.fireChannelActive()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.cancelTimers()
    }

    func channelInactive(context: ChannelHandlerContext) {
        self.cancelTimers()
        self.connection.recordClose(
            WebSocketCloseStatus(
                code: .abnormalClosure,
                reason: "connection closed without a close frame",
                initiator: .transport
            )
        )
        self.closeState = .closed
        self.partialMessage = nil
        let waiters = self.pingWaiters
        self.pingWaiters = [:]
        for waiter in waiters.values {
            waiter.fail(self.connection.closedError)
        }
        context.fireChannelInactive()
    }

    // MARK: Inbound

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = Self.unwrapInboundIn(data)
        switch self.closeState {
        case .closed:
            return
        case .closeSent:
            // Everything but the peer's close frame is dropped while we wait for it.
            if frame.opcode == .connectionClose {
                self.closeState = .closed
                self.cancelTimers()
                context.close(promise: nil)
            }
            return
        case .open:
            break
        }

        if frame.rsv1 || frame.rsv2 || frame.rsv3 {
            return self.fail(context: context, code: .protocolError, reason: "reserved bits set without an extension")
        }
        switch self.configuration.role {
        case .server where frame.maskKey == nil:
            return self.fail(context: context, code: .protocolError, reason: "client frames must be masked")
        case .client where frame.maskKey != nil:
            return self.fail(context: context, code: .protocolError, reason: "server frames must not be masked")
        default:
            break
        }

        switch frame.opcode {
        case .text:
            guard self.partialMessage == nil else {
                return self.fail(
                    context: context,
                    code: .protocolError,
                    reason: "new message started before the fragmented one finished"
                )
            }
            if frame.fin {
                self.deliver(context: context, payload: frame.unmaskedData)
            } else {
                self.partialMessage = frame.unmaskedData
            }

        case .continuation:
            guard var message = self.partialMessage else {
                return self.fail(context: context, code: .protocolError, reason: "continuation frame without a message")
            }
            self.partialMessage = nil  // keep `message` uniquely referenced so appending does not copy
            let total = message.readableBytes + frame.length
            guard total <= self.configuration.maxMessageSize else {
                return self.fail(
                    context: context,
                    code: .messageTooLarge,
                    reason: "message exceeds the limit of \(self.configuration.maxMessageSize) bytes"
                )
            }
            var payload = frame.unmaskedData
            message.writeBuffer(&payload)
            if frame.fin {
                self.deliver(context: context, payload: message)
            } else {
                self.partialMessage = message
            }

        case .binary:
            self.fail(context: context, code: .unacceptableData, reason: "binary frames are not supported")

        case .ping:
            // A peer that pings without reading must not grow our outbound buffer: while the
            // channel is not writable only the latest ping is answered, once it is (RFC 6455
            // §5.5.3 allows answering only the most recent ping).
            if context.channel.isWritable {
                self.write(context: context, opcode: .pong, payload: frame.unmaskedData)
                context.flush()
            } else {
                self.pendingPong = frame.unmaskedData
            }

        case .pong:
            self.unansweredPingSince = nil
            var payload = frame.unmaskedData
            if payload.readableBytes == 8, let id = payload.readInteger(as: UInt64.self),
                let waiter = self.pingWaiters.removeValue(forKey: id)
            {
                waiter.succeed()
            }

        case .connectionClose:
            self.peerSentClose(context: context, frame: frame)

        default:
            self.fail(context: context, code: .protocolError, reason: "unknown opcode \(frame.opcode)")
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        self.lastInbound = context.eventLoop.now
        self.readRequested = false
        if self.closeState == .closeSent {
            // Keep reading even if the application stopped consuming: we need the peer's close frame.
            self.readRequested = true
            context.read()
        }
        context.fireChannelReadComplete()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if let error = error as? NIOWebSocketError {
            let code: WebSocketErrorCode
            let reason: String
            switch error {
            case .invalidFrameLength:
                code = .messageTooLarge
                reason = "message exceeds the limit of \(self.configuration.maxMessageSize) bytes"
            case .fragmentedControlFrame:
                code = .protocolError
                reason = "fragmented control frame"
            case .multiByteControlFrameLength:
                code = .protocolError
                reason = "control frame longer than 125 bytes"
            }
            return self.fail(context: context, code: code, reason: reason)
        }
        if self.closeState != .open, error is ByteToMessageDecoderError {
            // The frame decoder stopped at a protocol error; we are only draining until close.
            return
        }
        // Connection reset, TLS failure and the like: nothing more can be said to the peer.
        self.connection.recordClose(
            WebSocketCloseStatus(code: .abnormalClosure, reason: "\(error)", initiator: .transport)
        )
        self.logger.debug("WebSocket connection failed", metadata: ["error": "\(error)"])
        self.closeState = .closed
        context.close(promise: nil)
    }

    // MARK: Outbound

    func read(context: ChannelHandlerContext) {
        self.readRequested = true
        context.read()
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable, self.closeState == .open, let payload = self.pendingPong {
            self.pendingPong = nil
            self.write(context: context, opcode: .pong, payload: payload)
            context.flush()
        }
        context.fireChannelWritabilityChanged()
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        guard self.closeState == .open else {
            promise?.fail(self.connection.closedError)
            return
        }
        let payload = Self.unwrapOutboundIn(data)
        context.write(Self.wrapOutboundOut(self.makeFrame(opcode: .text, payload: payload)), promise: promise)
    }

    func triggerUserOutboundEvent(context: ChannelHandlerContext, event: Any, promise: EventLoopPromise<Void>?) {
        switch event {
        case let request as WebSocketCloseRequest:
            self.startClose(context: context, code: request.code, reason: request.reason, initiator: .application)
            promise?.succeed()
        case is WebSocketPingRequest:
            guard self.closeState == .open else {
                promise?.fail(self.connection.closedError)
                return
            }
            let id = self.sendPing(context: context)
            if let promise {
                self.pingWaiters[id] = promise
            }
        default:
            context.triggerUserOutboundEvent(event, promise: promise)
        }
    }

    // MARK: Messages

    private func deliver(context: ChannelHandlerContext, payload: ByteBuffer) {
        guard let text = decodeUTF8(payload) else {
            return self.fail(
                context: context,
                code: .dataInconsistentWithMessage,
                reason: "text message is not valid UTF-8"
            )
        }
        context.fireChannelRead(Self.wrapInboundOut(text))
    }

    // MARK: Closing

    /// The peer broke the protocol: tell it why and close (RFC 6455 §7.1.7).
    private func fail(context: ChannelHandlerContext, code: WebSocketErrorCode, reason: String) {
        self.logger.info(
            "Closing WebSocket session: \(reason)",
            metadata: ["code": "\(UInt16(webSocketErrorCode: code))"]
        )
        self.startClose(context: context, code: code, reason: reason, initiator: .transport)
    }

    /// Sends our close frame, then waits (draining input) for the peer's close frame. The TCP
    /// connection is not closed right away: closing with unread input makes the kernel send a
    /// reset, which can destroy the close frame before the peer reads it.
    private func startClose(
        context: ChannelHandlerContext,
        code: WebSocketErrorCode,
        reason: String,
        initiator: WebSocketCloseStatus.Initiator
    ) {
        guard self.closeState == .open else { return }
        self.closeState = .closeSent
        self.partialMessage = nil
        self.keepaliveTask?.cancel()
        self.keepaliveTask = nil
        self.connection.recordClose(WebSocketCloseStatus(code: code, reason: reason, initiator: initiator))

        var payload = context.channel.allocator.buffer(capacity: 2 + 123)
        payload.write(webSocketErrorCode: code)
        payload.writeString(truncateUTF8(reason, maxBytes: 123))
        self.write(context: context, opcode: .connectionClose, payload: payload)
        context.flush()

        let timeout = TimeAmount(self.configuration.closeTimeout)
        self.closeTimeoutTask = context.eventLoop.assumeIsolated().scheduleTask(in: timeout) {
            guard self.closeState != .closed else { return }
            self.logger.debug("No close frame from the peer in time; dropping the connection")
            self.closeState = .closed
            context.close(promise: nil)
        }
        if !self.readRequested {
            self.readRequested = true
            context.read()
        }
    }

    /// Echoes the peer's close code (RFC 6455 §5.5.1), then closes the connection.
    private func peerSentClose(context: ChannelHandlerContext, frame: WebSocketFrame) {
        var payload = frame.unmaskedData
        let code: WebSocketErrorCode
        var reason = ""
        switch payload.readableBytes {
        case 0:
            code = .noStatusReceived
        case 1:
            return self.fail(context: context, code: .protocolError, reason: "close frame with a 1-byte payload")
        default:
            let number = payload.readInteger(as: UInt16.self)!
            guard isValidCloseCode(number) else {
                return self.fail(context: context, code: .protocolError, reason: "invalid close code \(number)")
            }
            guard let text = decodeUTF8(payload) else {
                return self.fail(
                    context: context,
                    code: .dataInconsistentWithMessage,
                    reason: "close reason is not valid UTF-8"
                )
            }
            code = WebSocketErrorCode(codeNumber: Int(number))
            reason = text
        }
        let status = WebSocketCloseStatus(code: code, reason: reason, initiator: .peer)
        self.connection.recordClose(status)
        self.logger.debug("WebSocket peer closed the session", metadata: ["status": "\(status)"])
        self.closeState = .closed
        self.partialMessage = nil
        self.cancelTimers()

        var reply = context.channel.allocator.buffer(capacity: 2)
        if code != .noStatusReceived {
            reply.write(webSocketErrorCode: code)
        }
        context.writeAndFlush(Self.wrapOutboundOut(self.makeFrame(opcode: .connectionClose, payload: reply)))
            .assumeIsolated()
            .whenComplete { _ in context.close(promise: nil) }
    }

    // MARK: Keepalive and pings

    private func scheduleKeepalive(context: ChannelHandlerContext) {
        guard let interval = self.configuration.pingInterval, self.keepaliveTask == nil,
            self.closeState == .open
        else { return }
        self.keepaliveTask = context.eventLoop.assumeIsolated().scheduleTask(in: TimeAmount(interval)) {
            self.keepaliveTask = nil
            self.keepaliveTick(context: context, interval: interval)
        }
    }

    /// Pings every interval. Drops the connection when a ping has waited longer than the pong
    /// timeout and nothing at all arrived meanwhile, unless reads are paused by backpressure
    /// (then the pong may be sitting unread in the socket).
    private func keepaliveTick(context: ChannelHandlerContext, interval: Duration) {
        guard self.closeState == .open else { return }
        let now = context.eventLoop.now
        let timeout = TimeAmount(self.configuration.pongTimeout)
        if self.readRequested, let since = self.unansweredPingSince, now - since >= timeout,
            now - (self.lastInbound ?? since) >= timeout
        {
            let reason = "no pong within \(self.configuration.pongTimeout)"
            self.logger.info("Dropping WebSocket session: \(reason)")
            let silentSince = max(since, self.lastInbound ?? since)
            self.connection.recordClose(
                WebSocketCloseStatus(
                    code: .abnormalClosure, reason: reason, initiator: .transport,
                    silence: .nanoseconds((now - silentSince).nanoseconds))
            )
            self.closeState = .closed
            context.close(promise: nil)
            return
        }
        if self.unansweredPingSince == nil {
            self.unansweredPingSince = now
        }
        _ = self.sendPing(context: context)
        self.scheduleKeepalive(context: context)
    }

    /// Sends a ping whose payload is a fresh 8-byte id, so a pong can be matched to its waiter.
    private func sendPing(context: ChannelHandlerContext) -> UInt64 {
        self.nextPingID &+= 1
        let id = self.nextPingID
        var payload = context.channel.allocator.buffer(capacity: 8)
        payload.writeInteger(id)
        self.write(context: context, opcode: .ping, payload: payload)
        context.flush()
        return id
    }

    // MARK: Helpers

    private func write(context: ChannelHandlerContext, opcode: WebSocketOpcode, payload: ByteBuffer) {
        context.write(Self.wrapOutboundOut(self.makeFrame(opcode: opcode, payload: payload)), promise: nil)
    }

    /// Clients must mask every frame (RFC 6455 §5.3), servers must not.
    private func makeFrame(opcode: WebSocketOpcode, payload: ByteBuffer) -> WebSocketFrame {
        let maskKey: WebSocketMaskingKey? = self.configuration.role == .client ? .random() : nil
        return WebSocketFrame(fin: true, opcode: opcode, maskKey: maskKey, data: payload)
    }

    private func cancelTimers() {
        self.keepaliveTask?.cancel()
        self.keepaliveTask = nil
        self.closeTimeoutTask?.cancel()
        self.closeTimeoutTask = nil
    }
}

@available(*, unavailable)
extension WebSocketSessionHandler: Sendable {}

/// Close codes a peer may send (RFC 6455 §7.4; 1012–1014 are IANA-registered since).
func isValidCloseCode(_ code: UInt16) -> Bool {
    switch code {
    case 1000...1003, 1007...1014, 3000...4999: return true
    default: return false
    }
}

/// Strict UTF-8 decoding: `nil` for invalid input instead of replacement characters, which is
/// what turns into close code 1007.
func decodeUTF8(_ buffer: ByteBuffer) -> String? {
    buffer.withUnsafeReadableBytes { bytes in
        if #available(macOS 15, iOS 18, tvOS 18, watchOS 11, visionOS 2, *) {
            return String(validating: bytes, as: UTF8.self)
        }
        let repaired = String(decoding: bytes, as: UTF8.self)
        return repaired.utf8.elementsEqual(bytes) ? repaired : nil
    }
}

/// Close reasons must fit a 125-byte control frame with the 2-byte code; cut at a character
/// boundary so the reason stays valid UTF-8.
func truncateUTF8(_ text: String, maxBytes: Int) -> String {
    guard text.utf8.count > maxBytes else { return text }
    var result = ""
    var used = 0
    for character in text {
        let size = character.utf8.count
        guard used + size <= maxBytes else { break }
        result.append(character)
        used += size
    }
    return result
}
