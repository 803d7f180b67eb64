import Foundation
import Logging
import RFSProtocol
import RFSStore
import RFSTransport
import RFSWire
import ServiceLifecycle
import Synchronization

/// The worker daemon (DESIGN.md §6): a WebSocket listener, the sessions of the clients, and the
/// run hosts that execute their scripts. No Python runs in this process: every run executes in a
/// run host (`rfs host`, a child process), chosen and watched by the ``RunExecutor``.
///
/// An actor with an explicit state; `run()` makes it a swift-service-lifecycle `Service` whose
/// graceful shutdown stops new runs, lets running ones finish within the shutdown grace (then
/// interrupts them and kills their hosts after the cancel grace), answers them, closes every
/// session and stops every host.
public actor Worker: Service {
    private enum State {
        case created
        case listening(Listening)
        /// Shutting down; the task does it, and every caller of ``shutdown()`` waits for it.
        case stopping(Task<Void, Never>)
        case stopped
    }

    private struct Listening {
        let server: WebSocketServer
        /// `--metrics-listen`'s listener, serving only `/metrics`.
        let metricsServer: WebSocketServer?
        let environment: WorkerEnvironment
    }

    private let configuration: WorkerConfiguration
    private let logger: Logger
    private var state: State = .created
    private let sessionNumbers = SessionNumbers()
    /// This worker's metrics: what `/metrics` shows (tests read them here).
    public nonisolated let metrics: WorkerMetrics

    public init(configuration: WorkerConfiguration, logger: Logger, metrics: WorkerMetrics = WorkerMetrics()) {
        self.configuration = configuration
        self.logger = logger
        self.metrics = metrics
    }

    /// The port of the `--metrics-listen` listener once started (the chosen one when 0 was asked).
    public var metricsPort: Int? {
        guard case .listening(let listening) = state else { return nil }
        return listening.metricsServer?.port
    }

    /// Starts the warm run hosts and binds the listener. Returns the bound port.
    @discardableResult
    public func start() async throws -> Int {
        switch state {
        case .listening(let listening): return listening.server.port
        case .stopping, .stopped: throw WorkerError.shuttingDown
        case .created: break
        }
        if let address = configuration.metricsListen, !isLoopback(host: address.host) {
            throw WorkerError.metricsListenNotLoopback(host: address.host)
        }
        // The configuration as served: without the tree capability when the store cannot be made.
        var configuration = self.configuration
        let pycache = pycacheDirectory()
        let trees = runTrees(&configuration)
        if trees != nil { metrics.storeAvailable() }
        let registry = SessionRegistry()
        let router = FetchRouter(registry: registry, fetchTimeout: configuration.fetchTimeout, metrics: metrics, logger: logger)
        let launcher = HostLauncher(
            executable: configuration.hostExecutable, maxMessageSize: configuration.maxMessageSize,
            pythonPath: configuration.pythonPath, pycacheDirectory: pycache, logLevel: configuration.hostLogLevel,
            router: router, maxFetchesInFlight: configuration.maxFetchesPerHost, logger: logger)
        let warm = configuration.isolation == .shared ? max(1, min(configuration.warmHosts, 1)) : configuration.warmHosts
        let pool = HostPool(launcher: launcher, target: warm, refills: configuration.refillWarmHosts, logger: logger)
        await pool.start()
        let environment = WorkerEnvironment(
            executor: RunExecutor(configuration: configuration, pool: pool, trees: trees, metrics: metrics, logger: logger),
            registry: registry,
            sessions: LiveSessions(),
            info: WorkerInfo(pythonVersion: configuration.pythonVersion),
            configuration: configuration,
            metrics: metrics
        )
        let server: WebSocketServer
        let metricsServer: WebSocketServer?
        let metrics = self.metrics
        var serverConfiguration = WebSocketServerConfiguration(
            host: configuration.host, port: configuration.port, authentication: configuration.authentication,
            tls: configuration.tls, maxMessageSize: configuration.maxMessageSize,
            pingInterval: configuration.pingInterval, pongTimeout: configuration.pongTimeout)
        serverConfiguration.maxQueuedOutboundBytes = configuration.maxQueuedOutputBytes
        serverConfiguration.metrics = { metrics.exposition() }
        do {
            server = try await WebSocketServer.bind(
                configuration: serverConfiguration,
                logger: logger,
                onSession: { [sessionNumbers, logger] transport in
                    let number = sessionNumbers.next()
                    let session = WorkerSession(number: number, transport: transport, environment: environment, logger: logger)
                    await session.serve()
                }
            )
        } catch {
            await pool.shutdown()
            await trees?.removeAll()
            throw WorkerError.listenFailed(address: "\(configuration.host):\(configuration.port)", reason: "\(error)")
        }
        do {
            if let address = configuration.metricsListen {
                metricsServer = try await WebSocketServer.bind(
                    configuration: .metricsOnly(host: address.host, port: address.port) { metrics.exposition() },
                    logger: logger, onSession: { _ in })
            } else {
                metricsServer = nil
            }
        } catch {
            await server.shutdown()
            await pool.shutdown()
            await trees?.removeAll()
            throw WorkerError.listenFailed(address: "\(configuration.metricsListen?.description ?? "")", reason: "\(error)")
        }
        state = .listening(Listening(server: server, metricsServer: metricsServer, environment: environment))
        logger.info(
            "worker listening",
            metadata: [
                "address": "\(configuration.host):\(server.port)", "tls": "\(configuration.tls != nil)",
                "auth": "\(configuration.authentication.summary)", "python": "\(configuration.pythonVersion)",
                "isolation": "\(configuration.isolation.rawValue)", "max_runs": "\(configuration.maxRuns)",
                "warm_hosts": "\(warm)", "tree": "\(trees != nil)",
            ])
        return server.port
    }

    /// `<cache>/pycache`, created if needed; nil (hosts then write no bytecode) when there is no
    /// cache directory or it cannot be made.
    private func pycacheDirectory() -> String? {
        guard let cache = configuration.cacheDirectory else { return nil }
        let directory = cache + "/pycache"
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            return directory
        } catch {
            logger.warning(
                "run hosts will compile modules anew each time: cannot create the bytecode cache",
                metadata: ["directory": "\(directory)", "error": "\(error)"])
            return nil
        }
    }

    /// The node store (`<cache>/store`, `<cache>/runs`) when the worker has a cache directory,
    /// its startup cleanup queued; nil, and the tree capability withdrawn from `configuration`,
    /// when there is no cache or the store cannot be made (runs then import through
    /// `fetch_module`). Makes a few directories here, once, at start.
    private func runTrees(_ configuration: inout WorkerConfiguration) -> RunTrees? {
        guard let cache = configuration.cacheDirectory, let offer = configuration.treeOffer else { return nil }
        let store: NodeStore
        do {
            store = try NodeStore(directory: cache, sizeLimit: configuration.cacheSize, logger: logger)
        } catch {
            logger.warning(
                "clients' trees are not offered (imports go through fetch_module): the cache's store cannot be made",
                metadata: ["error": "\(error)"])
            configuration.cacheDirectory = nil
            return nil
        }
        let maintenance = StoreMaintenance(store: store)
        maintenance.scheduleStartupCleanup()
        return RunTrees(maintenance: maintenance, offer: offer, logger: logger)
    }

    /// Serves until graceful shutdown (SIGTERM/SIGINT through the service group) or ``shutdown()``.
    public func run() async throws {
        try await start()
        guard case .listening(let listening) = state else { return }
        try await withGracefulShutdownHandler {
            try await withThrowingDiscardingTaskGroup { group in
                if let metricsServer = listening.metricsServer {
                    group.addTask { try await metricsServer.run() }
                }
                try await listening.server.run()
                listening.metricsServer?.initiateShutdown()
            }
        } onGracefulShutdown: {
            Task { await self.shutdown() }
        }
        await shutdown()
    }

    /// Stops new runs, lets running ones finish within the shutdown grace (then interrupts
    /// them; their hosts are killed after the cancel grace), answers them, closes sessions and
    /// stops every run host. Safe to call more than once.
    public func shutdown() async {
        switch state {
        case .listening(let listening):
            let stopping = Task { await self.stop(listening) }
            state = .stopping(stopping)
            await stopping.value
        case .stopping(let stopping):
            // A second caller (the graceful-shutdown handler and `run`'s own end) waits for the
            // first one's work: returning early would let the process exit with run hosts
            // still up and run trees left in the cache.
            await stopping.value
        case .created, .stopped:
            return
        }
    }

    private func stop(_ listening: Listening) async {
        logger.info("worker shutting down")
        await listening.environment.executor.drain(shutdownGrace: configuration.shutdownGrace)
        // The interrupted runs' replies (and any other in flight) go out before sessions close.
        await listening.environment.sessions.waitUntilIdle()
        await listening.server.shutdown()
        await listening.metricsServer?.shutdown()
        await listening.environment.executor.shutdownHosts()
        state = .stopped
    }
}

/// Numbers sessions for logs, from any task.
private final class SessionNumbers: Sendable {
    private let counter = Atomic<UInt64>(0)

    func next() -> UInt64 {
        counter.wrappingAdd(1, ordering: .relaxed).newValue
    }
}
