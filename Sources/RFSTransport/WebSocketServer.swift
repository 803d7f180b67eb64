import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import NIOSSL
import NIOWebSocket

/// The worker's WebSocket endpoint (DESIGN.md §3): `/v1/session` upgrades to a session after the
/// bearer token check, `/healthz` answers `ok`, everything else 404; `wss://` when given a
/// certificate.
///
/// Lifecycle: `bind` listens at once (so `port` and `url` are known before serving); `run()`
/// accepts connections until `shutdown()` or until its task is cancelled, which makes it usable as
/// the body of a swift-service-lifecycle `Service`. Each connection is served in its own child
/// task of `run()`; `run()` returns when the listener is closed and every `onSession` has
/// returned. With swift-service-lifecycle:
///
/// ```swift
/// try await withGracefulShutdownHandler {
///     try await server.run()
/// } onGracefulShutdown: {
///     server.initiateShutdown()
/// }
/// ```
public final class WebSocketServer: Sendable {
    /// The bound port (the ephemeral one when configured with port 0).
    public let port: Int
    /// The configuration the server was bound with.
    public let configuration: WebSocketServerConfiguration

    private let listener: NIOAsyncChannel<AcceptedConnection, Never>
    private let logger: Logger
    private let onSession: @Sendable (WebSocketSession) async -> Void
    private let state = NIOLockedValueBox(State())

    private struct State {
        var runStarted = false
        var shuttingDown = false
        var sessions: [ObjectIdentifier: WebSocketSession] = [:]
    }

    private init(
        port: Int,
        configuration: WebSocketServerConfiguration,
        listener: NIOAsyncChannel<AcceptedConnection, Never>,
        logger: Logger,
        onSession: @escaping @Sendable (WebSocketSession) async -> Void
    ) {
        self.port = port
        self.configuration = configuration
        self.listener = listener
        self.logger = logger
        self.onSession = onSession
    }

    /// Loads the TLS files (if any) and starts listening; connections queue until `run()`.
    ///
    /// - Parameters:
    ///   - onSession: called once per upgraded connection, in its own child task; when it
    ///     returns, the session is closed (1000, or 1001 during shutdown).
    /// - Throws: `WebSocketTransportError.invalidConfiguration`, `.tlsConfiguration` or
    ///   `.bindFailed`.
    public static func bind(
        configuration: WebSocketServerConfiguration,
        eventLoopGroup: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        logger: Logger,
        onSession: @escaping @Sendable (WebSocketSession) async -> Void
    ) async throws -> WebSocketServer {
        try configuration.validate()
        var sslContext: NIOSSLContext?
        if let tls = configuration.tls {
            sslContext = try await TLSContexts.server(files: tls)
        }
        let pipeline = ServerPipeline(configuration: configuration, sslContext: sslContext, logger: logger)

        let listener: NIOAsyncChannel<AcceptedConnection, Never>
        do {
            listener = try await ServerBootstrap(group: eventLoopGroup)
                .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
                .serverChannelOption(.backlog, value: 256)
                .childChannelOption(.tcpOption(.tcp_nodelay), value: 1)
                .bind(host: configuration.host, port: configuration.port) { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try pipeline.configure(channel)
                    }
                }
        } catch {
            throw WebSocketTransportError.bindFailed(
                host: configuration.host,
                port: configuration.port,
                underlying: "\(error)"
            )
        }

        let port = listener.channel.localAddress?.port ?? configuration.port
        let server = WebSocketServer(
            port: port,
            configuration: configuration,
            listener: listener,
            logger: logger,
            onSession: onSession
        )
        guard configuration.acceptsSessions else {
            logger.info("metrics listener listening", metadata: ["url": "\(server.url)"])
            return server
        }
        if !configuration.authentication.requiresToken && !isLoopback(host: configuration.host) {
            logger.warning(
                "WebSocket server accepts sessions without a token on a non-loopback address",
                metadata: ["host": "\(configuration.host)"]
            )
        }
        logger.info(
            "WebSocket server listening",
            metadata: ["url": "\(server.url)", "auth": "\(configuration.authentication.summary)"]
        )
        return server
    }

    /// The URL clients connect to, e.g. `ws://127.0.0.1:8710/v1/session` (for `0.0.0.0` the host
    /// is reported as is); for a metrics-only listener, its page: `http://127.0.0.1:9100/metrics`.
    public var url: String {
        let host = self.configuration.host.contains(":") ? "[\(self.configuration.host)]" : self.configuration.host
        guard self.configuration.acceptsSessions else { return "http://\(host):\(self.port)/metrics" }
        let scheme = self.configuration.tls == nil ? "ws" : "wss"
        return "\(scheme)://\(host):\(self.port)\(self.configuration.path)"
    }

    /// Accepts and serves connections until `shutdown()`/`initiateShutdown()` or cancellation
    /// (which also closes sessions with 1001). Returns once every connection task has finished.
    ///
    /// - Throws: `WebSocketTransportError.alreadyRunning` on a second call, or the listener's error.
    public func run() async throws {
        let alreadyStarted = self.state.withLockedValue { state in
            defer { state.runStarted = true }
            return state.runStarted
        }
        guard !alreadyStarted else {
            throw WebSocketTransportError.alreadyRunning
        }
        try await withTaskCancellationHandler {
            try await withThrowingDiscardingTaskGroup { group in
                do {
                    try await self.listener.executeThenClose { connections in
                        for try await connection in connections {
                            group.addTask {
                                await self.serve(connection)
                            }
                        }
                    }
                } catch is CancellationError {
                    // Cancellation is how a service is asked to stop: not a failure.
                    self.initiateShutdown()
                } catch {
                    self.initiateShutdown()
                    if Task.isCancelled { return }
                    self.logger.error("WebSocket listener failed", metadata: ["error": "\(error)"])
                    throw error
                }
            }
        } onCancel: {
            self.initiateShutdown()
        }
        self.logger.info("WebSocket server stopped", metadata: ["url": "\(self.url)"])
    }

    /// Stops accepting, sends every open session a close frame with 1001 (going away) and waits
    /// until their connections are closed (each bounded by the close timeout). It does not wait
    /// for `onSession` handlers to return; `run()` does.
    public func shutdown() async {
        let sessions = self.beginShutdown()
        try? await self.listener.channel.closeFuture.get()
        for session in sessions {
            await session.waitUntilClosed()
        }
    }

    /// Starts `shutdown()` without waiting, for synchronous contexts such as a graceful-shutdown
    /// handler of swift-service-lifecycle.
    public func initiateShutdown() {
        _ = self.beginShutdown()
    }

    /// Closes the listener and sends 1001 to every registered session; returns those sessions.
    private func beginShutdown() -> [WebSocketSession] {
        let (sessions, first) = self.state.withLockedValue { state in
            defer { state.shuttingDown = true }
            return (Array(state.sessions.values), !state.shuttingDown)
        }
        if first {
            self.logger.info("WebSocket server shutting down", metadata: ["sessions": "\(sessions.count)"])
        }
        self.listener.channel.close(promise: nil)
        for session in sessions {
            session.initiateClose(code: .goingAway, reason: "server shutting down")
        }
        return sessions
    }

    /// Runs one accepted connection to its end: waits for the HTTP phase, then hands the session
    /// to `onSession` and closes it afterwards. Never throws: one connection's failure is its own.
    private func serve(_ accepted: AcceptedConnection) async {
        let result: ServerUpgradeResult
        do {
            result = try await accepted.upgrade.get()
        } catch {
            // Answered by the gate (health check, 401, 404...), TLS failure, or handshake timeout.
            self.logger.trace(
                "Connection ended without an upgrade",
                metadata: ["remote": "\(describe(accepted.channel.remoteAddress))", "cause": "\(error)"]
            )
            accepted.channel.close(promise: nil)
            return
        }
        guard case .websocket(let asyncChannel, let connection, let principal) = result else {
            return
        }
        var logger = self.logger
        logger[metadataKey: "remote"] = "\(connection.remoteDescription)"
        logger[metadataKey: "principal"] = "\(principal.name)"
        do {
            try await asyncChannel.executeThenClose { inbound, outbound in
                let session = WebSocketSession(
                    channel: asyncChannel.channel,
                    inbound: inbound,
                    outbound: outbound,
                    connection: connection,
                    maxMessageSize: self.configuration.maxMessageSize,
                    maxQueuedOutboundBytes: self.configuration.maxQueuedOutboundBytes,
                    principal: principal
                )
                guard self.register(session) else {
                    await session.close(code: .goingAway, reason: "server shutting down")
                    return
                }
                logger.debug("WebSocket session opened")
                await self.onSession(session)
                let shuttingDown = self.unregister(session)
                if shuttingDown {
                    await session.close(code: .goingAway, reason: "server shutting down")
                } else {
                    await session.close(code: .normalClosure)
                }
                logger.debug(
                    "WebSocket session ended",
                    metadata: ["status": "\(session.closeStatus.map { "\($0)" } ?? "unknown")"]
                )
            }
        } catch {
            logger.debug("WebSocket session channel failed", metadata: ["error": "\(error)"])
        }
    }

    /// Adds a session to the set `shutdown` closes; refuses once shutdown has begun.
    private func register(_ session: WebSocketSession) -> Bool {
        self.state.withLockedValue { state in
            guard !state.shuttingDown else { return false }
            state.sessions[ObjectIdentifier(session)] = session
            return true
        }
    }

    /// Removes a session; returns whether the server is shutting down.
    private func unregister(_ session: WebSocketSession) -> Bool {
        self.state.withLockedValue { state in
            state.sessions[ObjectIdentifier(session)] = nil
            return state.shuttingDown
        }
    }
}
