import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL
import NIOWebSocket

/// Connects to a worker's WebSocket endpoint (`ws://` or `wss://`), sending the bearer token and
/// verifying the server certificate, and returns a `WebSocketSession`.
public enum WebSocketClient {
    /// Connects and returns an open session. Close it with `close()` when done; a session that is
    /// simply released is closed with 1001. The connection is owned by a small background task
    /// that ends when the connection closes; prefer `withSession` for structured code.
    ///
    /// - Throws: `WebSocketTransportError`: `.invalidURL`, `.connectFailed` (refused, DNS,
    ///   timeout), `.tlsFailed` (untrusted certificate, hostname mismatch), `.tlsConfiguration`
    ///   (unreadable CA file), `.unauthorized` (HTTP 401), `.upgradeFailed` (other statuses).
    public static func connect(
        configuration: WebSocketClientConfiguration,
        eventLoopGroup: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        logger: Logger
    ) async throws -> WebSocketSession {
        let (asyncChannel, connection) = try await self.negotiate(
            configuration: configuration,
            eventLoopGroup: eventLoopGroup,
            logger: logger
        )
        let maxMessageSize = configuration.maxMessageSize
        let maxQueuedOutboundBytes = configuration.maxQueuedOutboundBytes
        return await withCheckedContinuation { continuation in
            // NIOAsyncChannel hands out its streams only inside `executeThenClose`; this task
            // keeps that scope open until the connection closes. It holds the channel, not the
            // session, so releasing the session still closes the connection.
            Task {
                try? await asyncChannel.executeThenClose { inbound, outbound in
                    continuation.resume(
                        returning: WebSocketSession(
                            channel: asyncChannel.channel,
                            inbound: inbound,
                            outbound: outbound,
                            connection: connection,
                            maxMessageSize: maxMessageSize,
                            maxQueuedOutboundBytes: maxQueuedOutboundBytes
                        )
                    )
                    try? await asyncChannel.channel.closeFuture.get()
                }
            }
        }
    }

    /// Connects, runs `body` with the session, then closes it (1000) and waits for the close
    /// handshake, also when `body` throws.
    public static func withSession<Result: Sendable>(
        configuration: WebSocketClientConfiguration,
        eventLoopGroup: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        logger: Logger,
        _ body: (WebSocketSession) async throws -> Result
    ) async throws -> Result {
        let (asyncChannel, connection) = try await self.negotiate(
            configuration: configuration,
            eventLoopGroup: eventLoopGroup,
            logger: logger
        )
        return try await asyncChannel.executeThenClose { inbound, outbound in
            let session = WebSocketSession(
                channel: asyncChannel.channel,
                inbound: inbound,
                outbound: outbound,
                connection: connection,
                maxMessageSize: configuration.maxMessageSize,
                maxQueuedOutboundBytes: configuration.maxQueuedOutboundBytes
            )
            let result: Result
            do {
                result = try await body(session)
            } catch {
                await session.close()
                throw error
            }
            await session.close()
            return result
        }
    }

    /// Connects, runs the TLS and HTTP upgrade handshakes and returns the upgraded channel.
    static func negotiate(
        configuration: WebSocketClientConfiguration,
        eventLoopGroup: any EventLoopGroup,
        logger: Logger
    ) async throws -> (NIOAsyncChannel<String, ByteBuffer>, WebSocketConnectionState) {
        try validateMessageSize(configuration.maxMessageSize)
        if let interval = configuration.pingInterval, interval <= .zero {
            throw WebSocketTransportError.invalidConfiguration("pingInterval must be positive")
        }
        guard configuration.pongTimeout > .zero else {
            throw WebSocketTransportError.invalidConfiguration("pongTimeout must be positive")
        }
        let url = try WebSocketURL(parsing: configuration.url)
        var logger = logger
        logger[metadataKey: "url"] = "\(url.original)"

        var sslContext: NIOSSLContext?
        if url.isSecure {
            sslContext = try await TLSContexts.client(caFile: configuration.caFile)
        }
        let handshake = ClientHandshake(
            url: url,
            token: configuration.token,
            sslContext: sslContext,
            sessionConfiguration: WebSocketSessionHandler.Configuration(
                role: .client,
                maxMessageSize: configuration.maxMessageSize,
                pingInterval: configuration.pingInterval,
                pongTimeout: configuration.pongTimeout,
                closeTimeout: configuration.closeTimeout
            ),
            timeout: configuration.connectTimeout,
            logger: logger
        )

        let pending: PendingClientConnection
        do {
            pending = try await ClientBootstrap(group: eventLoopGroup)
                .connectTimeout(TimeAmount(configuration.connectTimeout))
                .channelOption(.tcpOption(.tcp_nodelay), value: 1)
                .connect(host: url.host, port: url.port) { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try handshake.configure(channel)
                    }
                }
        } catch {
            throw self.connectError(error, url: url, timeout: configuration.connectTimeout)
        }
        defer { pending.timeout.cancel() }

        let result: ClientUpgradeResult
        do {
            result = try await pending.upgrade.get()
        } catch {
            pending.channel.close(promise: nil)
            if pending.timedOut.withLockedValue({ $0 }) {
                throw WebSocketTransportError.connectFailed(
                    url: url.original,
                    underlying: "handshake timed out after \(configuration.connectTimeout)"
                )
            }
            throw self.handshakeError(error, url: url)
        }

        switch result {
        case .websocket(let asyncChannel, let connection):
            logger.debug("WebSocket session opened", metadata: ["remote": "\(connection.remoteDescription)"])
            return (asyncChannel, connection)
        case .notUpgraded(let http):
            let (status, body) = await self.readRefusal(http)
            logger.debug("WebSocket upgrade refused", metadata: ["status": "\(status)"])
            if status == 401 {
                throw WebSocketTransportError.unauthorized(url: url.original)
            }
            throw WebSocketTransportError.upgradeFailed(url: url.original, status: status, detail: body)
        }
    }

    /// Reads the status and the start of the body of a refused upgrade, for the error message.
    private static func readRefusal(
        _ http: NIOAsyncChannel<HTTPClientResponsePart, HTTPClientRequestPart>
    ) async -> (status: Int, body: String) {
        var status = 0
        var body = ByteBuffer()
        try? await http.executeThenClose { inbound, _ in
            for try await part in inbound {
                switch part {
                case .head(let head):
                    status = Int(head.status.code)
                case .body(var chunk):
                    if body.readableBytes < 512 {
                        body.writeBuffer(&chunk)
                    }
                case .end:
                    return
                }
            }
        }
        return (status, String(String(buffer: body).prefix(512)).trimmingWhitespace())
    }

    private static func connectError(
        _ error: any Error,
        url: WebSocketURL,
        timeout: Duration
    ) -> WebSocketTransportError {
        if let error = error as? WebSocketTransportError {
            return error
        }
        if let error = error as? ChannelError, case .connectTimeout = error {
            return .connectFailed(url: url.original, underlying: "connect timed out after \(timeout)")
        }
        if let error = error as? NIOConnectionError {
            if let dnsError = error.dnsAError ?? error.dnsAAAAError {
                return .connectFailed(url: url.original, underlying: "cannot resolve \(url.host): \(dnsError)")
            }
            let causes = error.connectionErrors.map { "\(describe($0.target)): \($0.error)" }
            return .connectFailed(
                url: url.original,
                underlying: causes.isEmpty ? "\(error)" : causes.joined(separator: "; ")
            )
        }
        return .connectFailed(url: url.original, underlying: "\(error)")
    }

    private static func handshakeError(_ error: any Error, url: WebSocketURL) -> WebSocketTransportError {
        switch error {
        case let error as WebSocketTransportError:
            return error
        case is NIOSSLError, is NIOSSLExtraError, is BoringSSLError:
            return .tlsFailed(url: url.original, underlying: "\(error)")
        case let error as NIOHTTPClientUpgradeError:
            return .connectFailed(url: url.original, underlying: "invalid WebSocket handshake response: \(error)")
        default:
            return .connectFailed(url: url.original, underlying: "connection failed during the handshake: \(error)")
        }
    }
}

/// How the client's HTTP upgrade ended.
enum ClientUpgradeResult: Sendable {
    case websocket(NIOAsyncChannel<String, ByteBuffer>, WebSocketConnectionState)
    /// Any status but 101; the channel still carries the response.
    case notUpgraded(NIOAsyncChannel<HTTPClientResponsePart, HTTPClientRequestPart>)
}

/// A connected channel whose handshake is still running.
struct PendingClientConnection: Sendable {
    var channel: any Channel
    var upgrade: EventLoopFuture<ClientUpgradeResult>
    var timeout: Scheduled<Void>
    var timedOut: NIOLockedValueBox<Bool>
}

/// Everything the client's channel initializer needs.
struct ClientHandshake: Sendable {
    var url: WebSocketURL
    var token: String?
    var sslContext: NIOSSLContext?
    var sessionConfiguration: WebSocketSessionHandler.Configuration
    var timeout: Duration
    var logger: Logger

    /// Builds `[TLS] → HTTP client codec → typed WebSocket upgrader`; runs on the event loop.
    func configure(_ channel: any Channel) throws -> PendingClientConnection {
        let sync = channel.pipeline.syncOperations
        if let sslContext = self.sslContext {
            // SNI and hostname verification use the name; for IP literals NIOSSL verifies the
            // certificate against the peer's address instead (an IP may not be sent as SNI).
            let isIPLiteral = (try? SocketAddress(ipAddress: self.url.host, port: 0)) != nil
            try sync.addHandler(
                NIOSSLClientHandler(context: sslContext, serverHostname: isIPLiteral ? nil : self.url.host)
            )
        }

        var headers = HTTPHeaders()
        headers.add(name: "Host", value: self.url.hostHeader)
        if let token = self.token {
            headers.add(name: "Authorization", value: "Bearer \(token)")
        }
        let requestHead = HTTPRequestHead(
            version: .http1_1,
            method: .GET,
            uri: self.url.requestTarget,
            headers: headers
        )

        let sessionConfiguration = self.sessionConfiguration
        let logger = self.logger
        let upgrader = NIOTypedWebSocketClientUpgrader<ClientUpgradeResult>(
            maxFrameSize: sessionConfiguration.maxMessageSize,
            enableAutomaticErrorHandling: false,
            upgradePipelineHandler: { channel, _ in
                channel.eventLoop.makeCompletedFuture {
                    let (asyncChannel, connection) = try wrapSessionChannel(
                        channel,
                        configuration: sessionConfiguration,
                        logger: logger
                    )
                    return .websocket(asyncChannel, connection)
                }
            }
        )
        var pipelineConfiguration = NIOUpgradableHTTPClientPipelineConfiguration(
            upgradeConfiguration: NIOTypedHTTPClientUpgradeConfiguration(
                upgradeRequestHead: requestHead,
                upgraders: [upgrader],
                notUpgradingCompletionHandler: { channel in
                    channel.eventLoop.makeCompletedFuture {
                        .notUpgraded(
                            try NIOAsyncChannel<HTTPClientResponsePart, HTTPClientRequestPart>(
                                wrappingChannelSynchronously: channel
                            )
                        )
                    }
                }
            )
        )
        // The server may send frames right behind its 101 response, in the same read; the
        // default (.dropBytes) would silently lose them.
        pipelineConfiguration.leftOverBytesStrategy = .forwardBytes
        let upgrade = try sync.configureUpgradableHTTPClientPipeline(configuration: pipelineConfiguration)

        let timedOut = NIOLockedValueBox(false)
        let timeout = channel.eventLoop.scheduleTask(in: TimeAmount(self.timeout)) {
            timedOut.withLockedValue { $0 = true }
            channel.close(promise: nil)
        }
        // Disarmed on the event loop the moment the handshake ends, not when the connecting task
        // next runs: a task resumed late (a busy cooperative pool) must not find its finished
        // connection closed by the handshake deadline.
        upgrade.whenComplete { _ in timeout.cancel() }
        return PendingClientConnection(channel: channel, upgrade: upgrade, timeout: timeout, timedOut: timedOut)
    }
}

extension String {
    fileprivate func trimmingWhitespace() -> String {
        let scalars = self.unicodeScalars
        guard let first = scalars.firstIndex(where: { !$0.properties.isWhitespace }),
            let last = scalars.lastIndex(where: { !$0.properties.isWhitespace })
        else { return "" }
        return String(scalars[first...last])
    }
}
