import Logging
import RFSPython
import RFSProtocol
import RFSTransport
import ServiceLifecycle
import Synchronization

/// The worker service: one embedded interpreter, a WebSocket listener, and the sessions of the
/// clients that feed it imports.
///
/// An actor with an explicit state; `run()` makes it a swift-service-lifecycle `Service` whose
/// graceful shutdown stops new runs, lets the current one finish within the grace period (then
/// interrupts it), and closes every session.
public actor Worker: Service {
    private enum State {
        case created
        case listening(Listening)
        case stopping
        case stopped
    }

    private struct Listening {
        let server: WebSocketServer
        let interpreter: PythonInterpreter
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

    /// Starts Python and binds the listener. Returns the bound port.
    @discardableResult
    public func start() async throws -> Int {
        switch state {
        case .listening(let listening): return listening.server.port
        case .stopping, .stopped: throw WorkerError.shuttingDown
        case .created: break
        }
        let interpreter: PythonInterpreter
        do {
            interpreter = try await PythonInterpreter(configuration: configuration.python, logger: logger)
        } catch {
            throw WorkerError.pythonStartFailed("\(error)")
        }
        let pythonVersion = interpreter.pythonVersion.split(separator: " ").first.map(String.init) ?? "unknown"
        let registry = SessionRegistry()
        let bridge = FetchBridge(registry: registry, defaultTimeout: configuration.fetchTimeout, logger: logger)
        interpreter.requestHandler = { connectionID, method, paramsJSON, timeout in
            try await bridge.handle(connectionID: connectionID, method: method, paramsJSON: paramsJSON, timeout: timeout)
        }
        let environment = WorkerEnvironment(
            coordinator: RunCoordinator(interpreter: interpreter, logger: logger),
            registry: registry,
            sessions: LiveSessions(),
            info: WorkerInfo(pythonVersion: pythonVersion),
            fetchTimeout: configuration.fetchTimeout,
            maxMessageSize: configuration.maxMessageSize
        )
        let server: WebSocketServer
        do {
            server = try await WebSocketServer.bind(
                configuration: WebSocketServerConfiguration(
                    host: configuration.host, port: configuration.port, token: configuration.token,
                    tls: configuration.tls, maxMessageSize: configuration.maxMessageSize),
                logger: logger,
                onSession: { [sessionNumbers, logger] transport in
                    let number = sessionNumbers.next()
                    let session = WorkerSession(number: number, transport: transport, environment: environment, logger: logger)
                    await session.serve()
                }
            )
        } catch {
            await interpreter.shutdown()
            throw WorkerError.listenFailed(address: "\(configuration.host):\(configuration.port)", reason: "\(error)")
        }
        state = .listening(Listening(server: server, interpreter: interpreter, environment: environment))
        logger.info(
            "worker listening",
            metadata: [
                "address": "\(configuration.host):\(server.port)", "tls": "\(configuration.tls != nil)",
                "auth": "\(configuration.token != nil)", "python": "\(pythonVersion)",
            ])
        return server.port
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

    /// Stops new runs, lets the current one finish within the grace period, closes sessions,
    /// and finalizes Python. Safe to call more than once.
    public func shutdown() async {
        guard case .listening(let listening) = state else { return }
        state = .stopping
        logger.info("worker shutting down")
        await listening.environment.coordinator.drain(grace: configuration.shutdownGrace)
        // The drained run's reply (and any other in flight) goes out before sessions close.
        await listening.environment.sessions.waitUntilIdle()
        await listening.server.shutdown()
        await listening.interpreter.shutdown()
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
