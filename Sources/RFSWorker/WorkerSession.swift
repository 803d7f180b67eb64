import Logging
import RFSPython
import RFSProtocol
import RFSTransport
import Synchronization

/// One WebSocket connection to the worker: a JSON-RPC peer with the methods of DESIGN.md §3.
///
/// The peer (an actor) owns request correlation; this type owns the session's connection id and
/// the names its client last announced (a `Mutex`, read by handlers running concurrently).
final class WorkerSession: Sendable {
    private struct State {
        var connectionID: String?
        var announcedNames: [String] = []
    }

    let number: UInt64
    private let transport: WebSocketSession
    let peer: JSONRPCPeer
    private let state = Mutex(State())
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
            configuration: .init(defaultRequestTimeout: environment.fetchTimeout, maxMessageSize: environment.maxMessageSize),
            logger: logger,
            send: { [transport] text in try await transport.send(text) }
        )
    }

    /// Serves the connection until it closes, then releases its connection id, which fails the
    /// session's pending fetches at once and interrupts its run.
    func serve() async {
        await registerHandlers()
        environment.sessions.insert(number, peer)
        defer { environment.sessions.remove(number) }
        logger.info("session opened")
        await peer.run(inbound: transport.messages)
        await peer.close(reason: "session \(number) closed")
        if let id = state.withLock({ $0.connectionID }), environment.registry.release(id, sessionNumber: number) {
            await environment.coordinator.connectionClosed(id)
        }
        logger.info("session closed")
    }

    private func registerHandlers() async {
        await peer.register("initialize") { [environment] request in
            try Self.initialize(request.params, info: environment.info, maxMessageSize: environment.maxMessageSize)
        }
        await peer.register("request_plugin_info") { [environment] _ in
            let names = await environment.coordinator.context.topLevelNames.sorted()
            return .object(["full_names": .array(names.map(JSONValue.string))])
        }
        await peer.register("set_connection_id") { [weak self] request in
            guard let self else { throw JSONRPCError.internalError("session closed") }
            return try self.setConnectionID(request)
        }
        await peer.register("run") { [weak self] request in
            guard let self else { throw JSONRPCError.internalError("session closed") }
            return try await self.run(request)
        }
    }

    /// Checks the client's protocol versions and describes the worker.
    ///
    /// Capabilities beyond DESIGN.md §3: `prefetch` invites the client to attach the modules below
    /// a package to its `fetch_module` reply (`"prefetched": [result, …]`), at most `max_modules`
    /// of them and `max_bytes` of source — half the message limit, so a reply always fits.
    static func initialize(_ params: JSONValue?, info: WorkerInfo, maxMessageSize: Int) throws -> JSONValue {
        if case .object(let object)? = params, let versions = object["protocol_versions"] {
            guard case .array(let items) = versions else {
                throw JSONRPCError.invalidParams("initialize: 'protocol_versions' must be an array of integers")
            }
            let offered = items.compactMap { item -> Int64? in
                if case .int(let value) = item { return value }
                return nil
            }
            guard offered.contains(1) else {
                throw JSONRPCError.invalidParams(
                    "initialize: no common protocol version (client offers \(offered), worker speaks [1])")
            }
        }
        return .object([
            "protocol_version": 1,
            "worker": .object([
                "name": .string(info.name), "version": .string(info.version), "python": .string(info.pythonVersion),
            ]),
            "capabilities": .object([
                "batch": true, "cancel": true, "output": true,
                "namespace_packages": true, "fetch_result_shapes": .array(["spec", "filepath"]),
                "prefetch": .object([
                    "max_modules": 4096, "max_bytes": .int(Int64(min(32 << 20, maxMessageSize / 2))),
                ]),
            ]),
        ])
    }

    private func setConnectionID(_ request: JSONRPCRequest) throws -> JSONValue {
        let id: String
        switch request.params {
        case .object(let object)? where object["id"] != nil:
            switch object["id"]! {
            case .string(let value) where !value.isEmpty: id = value
            case .int(let value): id = String(value)
            default: throw JSONRPCError.invalidParams("set_connection_id: 'id' must be a non-empty string")
            }
        default:
            switch request.id {
            case .string(let value): id = value
            case .number(let value): id = String(value)
            }
        }
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

    private func run(_ request: JSONRPCRequest) async throws -> JSONValue {
        let run = try RunRequest(params: request.params)
        let context: ExecutionContext? = state.withLock { state in
            if let context = run.context {
                if context.connectionID != nil, context.connectionID == state.connectionID {
                    state.announcedNames = context.topLevelNames
                }
                return context
            }
            guard let id = state.connectionID else { return nil }
            return ExecutionContext(connectionID: id, topLevelNames: state.announcedNames)
        }
        let forwarder = OutputForwarder(peer: peer, logger: logger)
        let outcome: RunOutcome
        do {
            outcome = try await environment.coordinator.run(
                code: run.code, filename: run.filename, argv: run.argv, context: context,
                output: { kind, text in forwarder.write(kind, text) })
        } catch let error as WorkerError {
            await forwarder.finish()
            throw error.rpcError
        } catch {
            await forwarder.finish()
            throw error
        }
        await forwarder.finish()
        if Task.isCancelled { throw CancellationError() }
        logger.debug("run finished", metadata: ["filename": "\(run.filename)", "outcome": "\(outcome)"])
        return outcome.jsonValue
    }
}
