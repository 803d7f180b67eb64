/// Certificate chain and private key (PEM files) that turn the server into `wss://`.
public struct TLSFiles: Sendable, Equatable {
    /// PEM file with the server certificate, optionally followed by intermediates.
    public var certificatePath: String
    /// PEM file with the private key for the first certificate.
    public var privateKeyPath: String

    public init(certificatePath: String, privateKeyPath: String) {
        self.certificatePath = certificatePath
        self.privateKeyPath = privateKeyPath
    }
}

/// How a `WebSocketServer` listens and which connections it accepts.
public struct WebSocketServerConfiguration: Sendable {
    /// Address to listen on, e.g. `127.0.0.1` or `0.0.0.0`.
    public var host: String
    /// Port to listen on; 0 picks an ephemeral port (read it back from `WebSocketServer.port`).
    public var port: Int
    /// Which bearer tokens the upgrade request must carry, and the ``Principal`` each one makes
    /// the session (``WebSocketSession/principal``); `.none` accepts everyone.
    public var authentication: Authentication
    /// Certificate and key for `wss://`; `nil` serves plain `ws://`.
    public var tls: TLSFiles?
    /// Largest inbound message (after reassembling fragments); larger ones close the connection
    /// with 1009. Also the largest message `send` accepts. At most `UInt32.max`.
    public var maxMessageSize: Int
    /// How often the server pings each session; `nil` disables keepalive.
    public var pingInterval: Duration?
    /// A session whose ping has gone unanswered this long, with nothing else received either,
    /// is dropped (checked at each ping, so the drop happens within `pongTimeout + pingInterval`).
    public var pongTimeout: Duration
    /// The only path that upgrades to WebSocket; others get 404.
    public var path: String
    /// How long a new connection may take to send its HTTP request (and finish TLS) before it is
    /// dropped, so idle sockets cannot pile up.
    public var handshakeTimeout: Duration
    /// How long to wait for the peer's close frame after sending ours before dropping the TCP
    /// connection.
    public var closeTimeout: Duration
    /// Most bytes of a session's outbound messages copied for the connection and not yet taken
    /// by it, however many tasks send at once to a client that reads slowly or not at all
    /// (`WebSocketSession.send`); default 8 MiB. One larger message goes alone.
    public var maxQueuedOutboundBytes: Int = WebSocketSession.defaultMaxQueuedOutboundBytes
    /// The text `GET /metrics` answers (a Prometheus exposition, rendered at each request on the
    /// connection's event loop, so it must be quick and must not block); behind the token when
    /// there is one. nil: `/metrics` is 404.
    public var metrics: (@Sendable () -> String)? = nil
    /// False for a listener that serves no sessions (its session path is 404): see
    /// ``metricsOnly(host:port:metrics:)``.
    public var acceptsSessions = true

    /// A listener that serves only `GET /metrics` (and `/healthz`), without a token: the
    /// worker's `--metrics-listen`, which its caller keeps on loopback.
    public static func metricsOnly(host: String, port: Int, metrics: @escaping @Sendable () -> String) -> Self {
        var configuration = WebSocketServerConfiguration(host: host, port: port, authentication: .none, pingInterval: nil)
        configuration.metrics = metrics
        configuration.acceptsSessions = false
        return configuration
    }

    public init(
        host: String,
        port: Int,
        authentication: Authentication,
        tls: TLSFiles? = nil,
        maxMessageSize: Int = 64 << 20,
        pingInterval: Duration? = .seconds(30),
        pongTimeout: Duration = .seconds(20),
        path: String = "/v1/session",
        handshakeTimeout: Duration = .seconds(10),
        closeTimeout: Duration = .seconds(5)
    ) {
        self.host = host
        self.port = port
        self.authentication = authentication
        self.tls = tls
        self.maxMessageSize = maxMessageSize
        self.pingInterval = pingInterval
        self.pongTimeout = pongTimeout
        self.path = path
        self.handshakeTimeout = handshakeTimeout
        self.closeTimeout = closeTimeout
    }

    /// Rejects values NIO would trap on (frame sizes above 4 GiB) or that cannot work.
    func validate() throws(WebSocketTransportError) {
        try validateMessageSize(self.maxMessageSize)
        guard (0...65535).contains(self.port) else {
            throw .invalidConfiguration("port \(self.port) is outside 0...65535")
        }
        guard self.path.hasPrefix("/") else {
            throw .invalidConfiguration("path '\(self.path)' must start with '/'")
        }
        if let pingInterval = self.pingInterval, pingInterval <= .zero {
            throw .invalidConfiguration("pingInterval must be positive")
        }
        guard self.pongTimeout > .zero, self.closeTimeout > .zero, self.handshakeTimeout > .zero else {
            throw .invalidConfiguration("pongTimeout, closeTimeout and handshakeTimeout must be positive")
        }
        if case .token(let token) = self.authentication, let problem = TokenRules.problem(with: token) {
            throw .invalidConfiguration("the bearer token is refused: \(problem)")
        }
    }
}

/// NIO's frame decoder traps on limits above `UInt32.max`, so both sides check first.
func validateMessageSize(_ size: Int) throws(WebSocketTransportError) {
    guard size > 0, size <= Int(UInt32.max) else {
        throw .invalidConfiguration("maxMessageSize \(size) is outside 1...\(UInt32.max)")
    }
}
