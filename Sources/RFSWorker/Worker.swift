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
        case stopping
        case stopped
    }

    private struct Listening {
        let server: WebSocketServer
        let environment: WorkerEnvironment
    }

    private let configuration: WorkerConfiguration
    private let logger: Logger
    private var state: State = .created
    private let sessionNumbers = SessionNumbers()

    public init(configuration: WorkerConfiguration, logger: Logger) {
        self.configuration = configuration
        self.logger = logger
    }

    /// Starts the warm run hosts and binds the listener. Returns the bound port.
    @discardableResult
    public func start() async throws -> Int {
        switch state {
        case .listening(let listening): return listening.server.port
        case .stopping, .stopped: throw WorkerError.shuttingDown
        case .created: break
        }
        // The configuration as served: without the tree capability when the store cannot be made.
        var configuration = self.configuration
        let pycache = pycacheDirectory()
        let trees = runTrees(&configuration)
        let registry = SessionRegistry()
        let router = FetchRouter(registry: registry, fetchTimeout: configuration.fetchTimeout, logger: logger)
        let launcher = HostLauncher(
            executable: configuration.hostExecutable, maxMessageSize: configuration.maxMessageSize,
            pythonPath: configuration.pythonPath, pycacheDirectory: pycache, logLevel: configuration.hostLogLevel,
            router: router, maxFetchesInFlight: configuration.maxFetchesPerHost, logger: logger)
        let warm = configuration.isolation == .shared ? max(1, min(configuration.warmHosts, 1)) : configuration.warmHosts
        let pool = HostPool(launcher: launcher, target: warm, refills: configuration.refillWarmHosts, logger: logger)
        await pool.start()
        let environment = WorkerEnvironment(
            executor: RunExecutor(configuration: configuration, pool: pool, trees: trees, logger: logger),
            registry: registry,
            sessions: LiveSessions(),
            info: WorkerInfo(pythonVersion: configuration.pythonVersion),
            configuration: configuration
        )
        let server: WebSocketServer
        do {
            server = try await WebSocketServer.bind(
                configuration: WebSocketServerConfiguration(
                    host: configuration.host, port: configuration.port, authentication: configuration.authentication,
                    tls: configuration.tls, maxMessageSize: configuration.maxMessageSize),
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
        state = .listening(Listening(server: server, environment: environment))
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
            try await listening.server.run()
        } onGracefulShutdown: {
            Task { await self.shutdown() }
        }
        await shutdown()
    }

    /// Stops new runs, lets running ones finish within the shutdown grace (then interrupts
    /// them; their hosts are killed after the cancel grace), answers them, closes sessions and
    /// stops every run host. Safe to call more than once.
    public func shutdown() async {
        guard case .listening(let listening) = state else { return }
        state = .stopping
        logger.info("worker shutting down")
        await listening.environment.executor.drain(shutdownGrace: configuration.shutdownGrace)
        // The interrupted runs' replies (and any other in flight) go out before sessions close.
        await listening.environment.sessions.waitUntilIdle()
        await listening.server.shutdown()
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
