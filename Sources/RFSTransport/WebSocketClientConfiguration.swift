/// Where and how `WebSocketClient` connects.
public struct WebSocketClientConfiguration: Sendable {
    /// `ws://host:port/path` or `wss://host:port/path`.
    public var url: String
    /// Sent as `Authorization: Bearer <token>` on the upgrade request when set.
    public var token: String?
    /// Extra trusted CA certificate(s) (PEM) for `wss://` servers with self-signed or private
    /// certificates; the system trust roots stay trusted. Hostname verification always applies.
    public var caFile: String?
    /// Largest inbound message (after reassembling fragments); larger ones close the connection
    /// with 1009. Also the largest message `send` accepts. At most `UInt32.max`.
    public var maxMessageSize: Int
    /// Limit for TCP connect plus the TLS and HTTP upgrade handshakes.
    public var connectTimeout: Duration
    /// How long to wait for the server's close frame after sending ours.
    public var closeTimeout: Duration
    /// Most bytes of the session's outbound messages copied for the connection and not yet
    /// taken by it (`WebSocketSession.send`); default 8 MiB. One larger message goes alone.
    public var maxQueuedOutboundBytes: Int = WebSocketSession.defaultMaxQueuedOutboundBytes
    /// How often the client pings the server; `nil` disables keepalive. Default 30 s, as the
    /// server's: without it a client never notices a frozen server (SIGSTOP, a dead link).
    public var pingInterval: Duration?
    /// A server whose ping has gone unanswered this long, with nothing else received either, is
    /// dropped (checked at each ping, so within `pongTimeout + pingInterval`); the session's
    /// close status then carries ``WebSocketCloseStatus/silence``. Default 20 s.
    public var pongTimeout: Duration

    public init(
        url: String,
        token: String? = nil,
        caFile: String? = nil,
        maxMessageSize: Int = 64 << 20,
        connectTimeout: Duration = .seconds(10),
        closeTimeout: Duration = .seconds(5),
        pingInterval: Duration? = .seconds(30),
        pongTimeout: Duration = .seconds(20)
    ) {
        self.url = url
        self.token = token
        self.caFile = caFile
        self.maxMessageSize = maxMessageSize
        self.connectTimeout = connectTimeout
        self.closeTimeout = closeTimeout
        self.pingInterval = pingInterval
        self.pongTimeout = pongTimeout
    }
}
