import Logging
import RFSProtocol
import RFSTransport
import RFSWire
import Synchronization

/// One WebSocket connection to the worker: a JSON-RPC peer with the methods of DESIGN.md §3.
///
/// The peer (an actor) owns request correlation; this type owns the session's connection id and
/// the names its client last announced (a `Mutex`, read by handlers running concurrently), and,
/// under `session` isolation, the session's run host (``HostSlot``), discarded when it closes.
final class WorkerSession: Sendable {
    private struct State {
        var connectionID: String?
        var announcedNames: [String] = []
    }

    let number: UInt64
    private let transport: WebSocketSession
    let peer: JSONRPCPeer
    private let state = Mutex(State())
    private let hostSlot = HostSlot()
    private let environment: WorkerEnvironment
    private let logger: Logger

    init(number: UInt64, transport: WebSocketSession, environment: WorkerEnvironment, logger: Logger) {
        var logger = logger
        logger[metadataKey: "session"] = "\(number)"
        logger[metadataKey: "remote"] = "\(transport.remoteDescription)"
        self.number = number
        self.transport = transport
        self.environment = environment
        self.logger = logger
        self.peer = JSONRPCPeer(
            label: "session \(number)",
            configuration: .init(
                defaultRequestTimeout: environment.configuration.fetchTimeout,
                maxMessageSize: environment.configuration.maxMessageSize,
                maxBatchSize: environment.configuration.maxBatchSize,
                maxRequestsInFlight: environment.configuration.maxRequestsInFlight),
            logger: logger,
            send: { [transport] text in try await transport.send(text) }
        )
    }

    /// Serves the connection until it closes, then releases its connection id, which fails the
    /// session's pending fetches at once and interrupts its run.
    func serve() async {
        await registerHandlers()
        environment.sessions.insert(number, peer)
        environment.metrics.sessionOpened()
        defer {
            environment.sessions.remove(number)
            environment.metrics.sessionClosed()
        }
        logger.info("session opened")
        await peer.run(inbound: transport.messages)
        await peer.close(reason: "session \(number) closed")
        if let id = state.withLock({ $0.connectionID }), environment.registry.release(id, sessionNumber: number) {
            environment.executor.connectionClosed(id)
        }
        // A run still going was cancelled with the session: it is interrupted, and killed only
        // after the cancel grace. Wait for it before the session's own host goes.
        await peer.waitUntilIdle()
        await hostSlot.discard()
        logger.info("session closed")
    }

    private func registerHandlers() async {
        await peer.register(WireMethod.initialize) { [environment] request in
            try Self.initialize(request.params, environment: environment).json
        }
        await peer.register(WireMethod.requestPluginInfo) { [environment] _ in
            // The context's names can be as large as a message: a burst of these must not make
            // the session hold one copy each (JSONRPCPeer.Configuration.maxReplyBytesHeld).
            let names = environment.executor.currentContext.topLevelNames.sorted()
            try await JSONRPCPeer.reserveReplyBytes(names.reduce(16) { $0 + $1.utf8.count + 3 })
            return PluginInfoResult(fullNames: names).json
        }
        await peer.register(WireMethod.setConnectionID) { [weak self] request in
            guard let self else { throw JSONRPCError.internalError("session closed") }
            return try self.setConnectionID(request)
        }
        await peer.register(WireMethod.run) { [weak self] request in
            guard let self else { throw JSONRPCError.internalError("session closed") }
            return try await self.run(request)
        }
    }

    /// Checks the client's protocol versions and describes the worker and its capabilities
    /// (DESIGN.md §3; `prefetch` and `isolation` are ours, see ``WorkerCapabilities``).
    static func initialize(_ params: JSONValue?, environment: WorkerEnvironment) throws -> InitializeResult {
        let version = try InitializeParams(json: params).negotiatedVersion()
        return InitializeResult(
            protocolVersion: version, workerName: environment.info.name, workerVersion: environment.info.version,
            python: environment.info.pythonVersion, capabilities: environment.configuration.capabilities)
    }

    private func setConnectionID(_ request: JSONRPCRequest) throws -> JSONValue {
        let id = try SetConnectionIDParams(request: request).id
        let previous = state.withLock { state -> String? in
            defer { state.connectionID = id }
            return state.connectionID
        }
        if let previous, previous != id {
            environment.registry.release(previous, sessionNumber: number)
        }
        environment.registry.claim(id, sessionNumber: number, peer: peer)
        logger.info("connection id set", metadata: ["connection_id": "\(id)"])
        return .null
    }

    /// Runs the script and answers how it ended; every run, however it ends, is counted by
    /// outcome with its duration from the request's arrival (queueing included) to its answer.
    private func run(_ request: JSONRPCRequest) async throws -> JSONValue {
        let started = ContinuousClock.now
        do {
            let result = try await execute(request)
            environment.metrics.runFinished(result.outcome, duration: ContinuousClock.now - started)
            return result.json
        } catch {
            let outcome: RFSMetrics.RunOutcome = error is CancellationError || Task.isCancelled ? .cancelled : .error
            environment.metrics.runFinished(outcome, duration: ContinuousClock.now - started)
            throw error
        }
    }

    private func execute(_ request: JSONRPCRequest) async throws -> RunResult {
        var run = try RunParams(json: request.params)
        run.context = state.withLock { state in
            if let context = run.context {
                if context.connectionID != nil, context.connectionID == state.connectionID {
                    state.announcedNames = context.topLevelNames
                }
                return context
            }
            guard let id = state.connectionID else { return nil }
            return ExecutionContext(connectionID: id, topLevelNames: state.announcedNames)
        }
        let transport = self.transport
        let logger = self.logger
        let result: RunResult
        do {
            result = try await environment.executor.execute(run, sessionSlot: hostSlot) { message in
                do {
                    try await transport.send(message)
                } catch {
                    logger.debug("output dropped: client gone", metadata: ["error": "\(error)"])
                }
            }
        } catch let error as WorkerError {
            throw error.rpcError
        }
        logger.debug("run finished", metadata: ["filename": "\(run.filename)", "result": "\(result)"])
        return result
    }
}

extension RunResult {
    /// The `outcome` label of ``RFSMetrics/runs``.
    var outcome: RFSMetrics.RunOutcome {
        switch self {
        case .ok: .ok
        case .exit: .exit
        case .exception: .exception
        case .crashed: .crashed
        }
    }
}
