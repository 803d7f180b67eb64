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
///
/// **Permissions** (issue 10): the session acts as the ``Principal`` its token authenticated
/// (immutable for its life) and checks it per method: `run` needs `run`, `set_connection_id`
/// needs `serve` (and an id no other token's session holds), `request_plugin_info` needs
/// `info`, `initialize` is open to every token; which connection ids a run may use is
/// ``RunRequester``'s rule. A refusal is JSON-RPC error -32001 naming the token.
final class WorkerSession: Sendable {
    private struct State {
        var connectionID: String?
        var announcedNames: [String] = []
    }

    let number: UInt64
    /// Who the client authenticated as; every log line of the session carries its name.
    let principal: Principal
    private let transport: WebSocketSession
    let peer: JSONRPCPeer
    private let state = Mutex(State())
    private let hostSlot = HostSlot()
    private let environment: WorkerEnvironment
    private let logger: Logger

    init(number: UInt64, transport: WebSocketSession, environment: WorkerEnvironment, logger: Logger) {
        // An accepted session always has a principal; `anonymous` is what `--no-auth` makes it.
        let principal = transport.principal ?? .anonymous
        var logger = logger
        logger[metadataKey: "session"] = "\(number)"
        logger[metadataKey: "remote"] = "\(transport.remoteDescription)"
        logger[metadataKey: "principal"] = "\(principal.name)"
        self.number = number
        self.principal = principal
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
        await peer.register(WireMethod.requestPluginInfo) { [weak self, environment] _ in
            guard let self else { throw JSONRPCError.internalError("session closed") }
            try self.require(.info, toDo: "read the worker's execution context")
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

    /// Claims the connection id for this session, if its token may serve and no other token's
    /// session holds the id; the session's previous id is released only once the new one is
    /// claimed, so a refused claim changes nothing.
    private func setConnectionID(_ request: JSONRPCRequest) throws -> JSONValue {
        let id = try SetConnectionIDParams(request: request).id
        try require(.serve, toDo: "serve imports (set_connection_id)")
        guard environment.registry.claim(id, sessionNumber: number, peer: peer, owner: principal.name) == .claimed else {
            RFSMetrics.reject(.connectionIDOwned)
            logger.notice("connection id refused: it belongs to another token", metadata: ["connection_id": "\(id)"])
            throw JSONRPCError.permissionDenied("connection id '\(id)' belongs to another token")
        }
        let previous = state.withLock { state -> String? in
            defer { state.connectionID = id }
            return state.connectionID
        }
        if let previous, previous != id {
            environment.registry.release(previous, sessionNumber: number)
        }
        logger.info("connection id set", metadata: ["connection_id": "\(id)"])
        return .null
    }

    /// Throws -32001 (counted `forbidden`) unless the session's token has `needed`.
    private func require(_ needed: Permissions, toDo what: String) throws(JSONRPCError) {
        guard !principal.may(needed) else { return }
        RFSMetrics.reject(.forbidden)
        logger.notice("permission denied", metadata: ["needs": "\(needed)", "permissions": "\(principal.permissions)"])
        throw JSONRPCError.permissionDenied(
            "permission denied: token '\(principal.name)' may not \(what) (needs the \(needed) permission)")
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
        try require(.run, toDo: "run code")
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
        let requester = RunRequester(principal: principal, registry: environment.registry)
        // For the log: the id the run names, "none", or "current" (it takes the worker's context).
        let connectionID = run.context.map { $0.connectionID ?? "none" } ?? "current"
        do {
            // Refused at once rather than after waiting for a slot; the executor checks again
            // where it settles the context (it may be the worker's current one).
            try requester.authorize(run.context)
        } catch {
            logger.notice("run refused", metadata: ["filename": "\(run.filename)", "connection_id": "\(connectionID)", "error": "\(error.message)"])
            throw error
        }
        // The audit line of every run: who (the session's `principal` metadata), what, through which id.
        logger.info("run", metadata: ["filename": "\(run.filename)", "connection_id": "\(connectionID)"])
        let transport = self.transport
        let logger = self.logger
        let result: RunResult
        do {
            result = try await environment.executor.execute(run, requester: requester, sessionSlot: hostSlot) { message in
                do {
                    try await transport.send(message)
                } catch {
                    logger.debug("output dropped: client gone", metadata: ["error": "\(error)"])
                }
            }
        } catch let error as WorkerError {
            throw error.rpcError
        } catch let error as JSONRPCError where error.code == JSONRPCError.permissionDenied {
            logger.notice("run refused", metadata: ["filename": "\(run.filename)", "error": "\(error.message)"])
            throw error
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
