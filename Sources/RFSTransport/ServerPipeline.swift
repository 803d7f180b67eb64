import Logging
import NIOCore
import NIOHTTP1
import NIOSSL
import NIOWebSocket

/// How an accepted connection ended its HTTP phase.
enum ServerUpgradeResult: Sendable {
    /// Upgraded: the session's channel, shared state and authenticated principal.
    case websocket(NIOAsyncChannel<String, ByteBuffer>, WebSocketConnectionState, Principal)
    /// The upgrader refused a request the gate had let through; a 400 was sent.
    case rejected
}

/// An accepted TCP connection and the future of its HTTP phase. Requests answered by the
/// `HTTPRequestGate` (health check, 401, 404, ...) fail this future when the connection closes.
struct AcceptedConnection: Sendable {
    var channel: any Channel
    var upgrade: EventLoopFuture<ServerUpgradeResult>
}

/// Everything the child channel initializer needs, captured once at bind time.
struct ServerPipeline: Sendable {
    var configuration: WebSocketServerConfiguration
    var sslContext: NIOSSLContext?
    var logger: Logger

    /// Builds `[TLS] → HTTP codec → gate → typed WebSocket upgrader` on a new connection. Runs
    /// on the connection's event loop.
    func configure(_ channel: any Channel) throws -> AcceptedConnection {
        let sync = channel.pipeline.syncOperations
        if let sslContext = self.sslContext {
            try sync.addHandler(NIOSSLServerHandler(context: sslContext))
        }

        let router = ServerRouter(
            sessionPath: self.configuration.path, authentication: self.configuration.authentication,
            metrics: self.configuration.metrics, acceptsSessions: self.configuration.acceptsSessions)
        // Who the upgrade request authenticated as: set by `shouldUpgrade`, read by the upgrade
        // pipeline handler right after it. Both run on this channel's event loop.
        let authenticated = NIOLoopBoundBox<Principal?>(nil, eventLoop: channel.eventLoop)
        let sessionConfiguration = WebSocketSessionHandler.Configuration(
            role: .server,
            maxMessageSize: self.configuration.maxMessageSize,
            pingInterval: self.configuration.pingInterval,
            pongTimeout: self.configuration.pongTimeout,
            closeTimeout: self.configuration.closeTimeout
        )
        let logger = self.logger

        let upgrader = NIOTypedWebSocketServerUpgrader<ServerUpgradeResult>(
            // One frame may carry a whole message; the default 16 KiB would cut messages short.
            maxFrameSize: self.configuration.maxMessageSize,
            // Protocol errors are turned into close codes by WebSocketSessionHandler.
            enableAutomaticErrorHandling: false,
            shouldUpgrade: { channel, head in
                // The gate already checked; checking again keeps the token rule in force even if
                // the pipeline changes.
                let principal = router.route(head).principal
                authenticated.value = principal
                return channel.eventLoop.makeSucceededFuture(principal != nil ? HTTPHeaders() : nil)
            },
            upgradePipelineHandler: { channel, _ in
                channel.eventLoop.makeCompletedFuture {
                    guard let principal = authenticated.value else {
                        throw WebSocketTransportError.invalidConfiguration("upgrade without an authenticated principal")
                    }
                    let (asyncChannel, connection) = try wrapSessionChannel(
                        channel,
                        configuration: sessionConfiguration,
                        logger: logger
                    )
                    return .websocket(asyncChannel, connection, principal)
                }
            }
        )

        let encoder = HTTPResponseEncoder()
        let decoder = ByteToMessageHandler(HTTPRequestDecoder(leftOverBytesStrategy: .forwardBytes))
        let errorHandler = HTTPServerProtocolErrorHandler()
        let gate = HTTPRequestGate(router: router, logger: logger)
        let upgradeHandler = NIOTypedHTTPServerUpgradeHandler<ServerUpgradeResult>(
            httpEncoder: encoder,
            extraHTTPHandlers: [decoder, errorHandler, gate],
            upgradeConfiguration: NIOTypedHTTPServerUpgradeConfiguration(
                upgraders: [upgrader],
                notUpgradingCompletionHandler: { channel in
                    let response = ServerRoute.badUpgrade.response(isHead: false)
                    channel.write(HTTPServerResponsePart.head(response.head), promise: nil)
                    if let body = response.body {
                        channel.write(HTTPServerResponsePart.body(.byteBuffer(body)), promise: nil)
                    }
                    return channel.writeAndFlush(HTTPServerResponsePart.end(nil))
                        .always { _ in channel.close(promise: nil) }
                        .map { ServerUpgradeResult.rejected }
                        .recover { _ in .rejected }
                }
            )
        )
        try sync.addHandlers([encoder, decoder, errorHandler, gate, upgradeHandler])

        // Drop connections that do not finish their handshake in time, so idle sockets cannot
        // pile up and keep child tasks alive.
        let upgrade = upgradeHandler.upgradeResultFuture
        let timeout = channel.eventLoop.scheduleTask(in: TimeAmount(self.configuration.handshakeTimeout)) {
            logger.debug("HTTP handshake timed out", metadata: ["remote": "\(describe(channel.remoteAddress))"])
            channel.close(promise: nil)
        }
        upgrade.whenComplete { _ in timeout.cancel() }
        return AcceptedConnection(channel: channel, upgrade: upgrade)
    }
}

/// Adds the session handler and wraps the upgraded channel for async use. Shared by the server
/// and the client; must run on the channel's event loop.
func wrapSessionChannel(
    _ channel: any Channel,
    configuration: WebSocketSessionHandler.Configuration,
    logger: Logger
) throws -> (NIOAsyncChannel<String, ByteBuffer>, WebSocketConnectionState) {
    let remote = describe(channel.remoteAddress)
    var logger = logger
    logger[metadataKey: "remote"] = "\(remote)"
    let connection = WebSocketConnectionState(remoteDescription: remote)
    try channel.pipeline.syncOperations.addHandler(
        WebSocketSessionHandler(configuration: configuration, connection: connection, logger: logger)
    )
    let asyncChannel = try NIOAsyncChannel<String, ByteBuffer>(
        wrappingChannelSynchronously: channel,
        configuration: NIOAsyncChannel.Configuration(
            // Messages can be large (up to maxMessageSize each), so buffer only a few before
            // backpressure stops reading from the socket.
            backPressureStrategy: .init(lowWatermark: 2, highWatermark: 8),
            inboundType: String.self,
            outboundType: ByteBuffer.self
        )
    )
    return (asyncChannel, connection)
}
