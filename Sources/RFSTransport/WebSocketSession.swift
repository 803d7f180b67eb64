import NIOCore
import RFSProtocol
import NIOWebSocket

/// One WebSocket connection carrying text messages; the same type on the server and the client.
///
/// The protocol work (framing, pings, close handshake, limits) happens in a channel handler on the
/// connection's event loop; this object is the async face of it and can be used from any task.
/// `messages` has a single consumer; `send`, `ping` and `close` may be called concurrently.
public final class WebSocketSession: Sendable {
    /// Inbound text messages in order; see `WebSocketMessages` for how iteration ends.
    public let messages: WebSocketMessages

    /// Who the peer authenticated as, for a session a ``WebSocketServer`` accepted (its token's
    /// name and permissions; ``Principal/anonymous`` without authentication). nil on the client
    /// side: a client does not authenticate its server this way.
    public let principal: Principal?

    private let channel: any Channel
    private let outbound: NIOAsyncChannelOutboundWriter<ByteBuffer>
    private let connection: WebSocketConnectionState
    private let maxMessageSize: Int
    /// Bounds the bytes of outbound messages between `send` and the channel (see ``send(_:)``).
    private let outboundBudget: ByteBudget

    /// Default of `maxQueuedOutboundBytes` in the server's and the client's configuration: 8 MiB.
    public static let defaultMaxQueuedOutboundBytes = 8 << 20

    init(
        channel: any Channel,
        inbound: NIOAsyncChannelInboundStream<String>,
        outbound: NIOAsyncChannelOutboundWriter<ByteBuffer>,
        connection: WebSocketConnectionState,
        maxMessageSize: Int,
        maxQueuedOutboundBytes: Int = WebSocketSession.defaultMaxQueuedOutboundBytes,
        principal: Principal? = nil
    ) {
        self.principal = principal
        self.channel = channel
        self.messages = WebSocketMessages(inbound: inbound, connection: connection)
        self.outbound = outbound
        self.connection = connection
        self.maxMessageSize = maxMessageSize
        self.outboundBudget = ByteBudget(limit: maxQueuedOutboundBytes)
    }

    /// A session nobody holds any more is closed with 1001 rather than leaking its connection.
    deinit {
        if !self.connection.isClosing {
            self.channel.triggerUserOutboundEvent(
                WebSocketCloseRequest(code: .goingAway, reason: "session released"),
                promise: nil
            )
        }
    }

    /// The peer's address, e.g. `127.0.0.1:54321`.
    public var remoteDescription: String { self.connection.remoteDescription }

    /// Why the session ended; `nil` while it is open.
    public var closeStatus: WebSocketCloseStatus? { self.connection.closeStatus }

    /// The close code of `closeStatus`.
    public var closeCode: WebSocketErrorCode? { self.connection.closeStatus?.code }

    /// True once a close was requested by either side or the connection dropped.
    public var isClosed: Bool { self.connection.isClosing }

    /// Sends one text message. Returns once the message is queued on the connection; suspends
    /// while the peer is not reading fast enough (the channel is not writable), so a slow peer
    /// slows the sender down instead of growing memory. Concurrent calls are serialised: each
    /// message goes out whole, in the order the calls reached the connection.
    ///
    /// Memory: the message is copied into a buffer for the channel only once its bytes fit in
    /// the session's `maxQueuedOutboundBytes` together with the other messages copied and not yet
    /// taken by the channel (one larger message goes alone); the channel takes messages only
    /// while fewer than its write watermark of bytes wait for the socket. So, however many tasks
    /// send at once to a peer that does not read, the transport holds at most about
    /// `maxQueuedOutboundBytes` (or one message) plus the watermark; each waiting sender holds
    /// only its own message.
    ///
    /// - Throws: `WebSocketTransportError.messageTooLarge` over `maxMessageSize`,
    ///   `WebSocketTransportError.closed` once the session is closing or closed,
    ///   `CancellationError` when the task is cancelled while waiting for the peer.
    public func send(_ text: String) async throws {
        let size = text.utf8.count
        guard size <= self.maxMessageSize else {
            throw WebSocketTransportError.messageTooLarge(size: size, limit: self.maxMessageSize)
        }
        guard !self.connection.isClosing else {
            throw self.connection.closedError
        }
        try await self.outboundBudget.acquire(size)
        defer { self.outboundBudget.release(size) }
        guard !self.connection.isClosing else {
            throw self.connection.closedError
        }
        // Copy into a buffer here, in the caller's task, rather than on the event loop.
        let buffer = self.channel.allocator.buffer(string: text)
        do {
            try await self.outbound.write(buffer)
        } catch is CancellationError {
            throw CancellationError()
        } catch {
            throw self.connection.closedError
        }
    }

    /// Sends a ping and waits for the matching pong: a round-trip check that the peer is alive.
    /// Waits until the pong arrives or the session closes (then throws `closed`); wrap it in
    /// your own timeout if needed. Answering the peer's pings and keepalive happen automatically.
    public func ping() async throws {
        do {
            try await self.channel.triggerUserOutboundEvent(WebSocketPingRequest()).get()
        } catch {
            throw self.connection.closedError
        }
    }

    /// Closes the session with a close handshake: sends a close frame with `code` and `reason`,
    /// waits for the peer's close frame (at most the configured close timeout), then closes the
    /// connection. Messages already passed to `send` go out first; later `send` calls throw
    /// `closed`. Returns when the connection is closed; calling it again is harmless.
    public func close(code: WebSocketErrorCode = .normalClosure, reason: String? = nil) async {
        self.initiateClose(code: code, reason: reason ?? "")
        await self.waitUntilClosed()
    }

    /// Waits until the connection is closed, by either side, and returns why.
    @discardableResult
    public func waitUntilClosed() async -> WebSocketCloseStatus {
        // `closeFuture` never fails.
        try? await self.channel.closeFuture.get()
        return self.connection.closeStatus
            ?? WebSocketCloseStatus(code: .abnormalClosure, reason: "connection closed", initiator: .transport)
    }

    /// Starts the close handshake without waiting, for synchronous contexts (server shutdown,
    /// cancellation handlers).
    func initiateClose(code: WebSocketErrorCode, reason: String) {
        self.connection.markClosing()
        self.channel.triggerUserOutboundEvent(WebSocketCloseRequest(code: code, reason: reason), promise: nil)
    }
}
