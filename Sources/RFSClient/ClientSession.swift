import Foundation
import Logging
import NIOPosix
import RFSModuleIndex
import RFSProtocol
import RFSTransport
import RFSWire
import Synchronization

/// Where and how to reach a worker.
public struct WorkerEndpoint: Sendable {
    public var url: String
    public var token: String?
    public var caFile: String?
    public var maxMessageSize: Int
    /// The client's bounds against a worker's requests (`fetch_module`, `tree/read`): most items
    /// in one batch, and most requests answered at once (replies not yet sent included); over
    /// them the worker gets `-32002` (see `JSONRPCPeer.Configuration`).
    public var maxBatchSize = JSONRPCPeer.Configuration.defaultMaxBatchSize
    public var maxRequestsInFlight = JSONRPCPeer.Configuration.defaultMaxRequestsInFlight
    /// Most bytes of outbound messages copied for the connection and not yet taken by it.
    public var maxQueuedOutboundBytes = WebSocketSession.defaultMaxQueuedOutboundBytes
    /// Keepalive (`--ping-interval`, `--pong-timeout`): a worker that answers nothing, not even
    /// a ping, for the pong timeout is given up on (``ClientError/workerStoppedAnswering(url:silence:)``).
    public var pingInterval: Duration?
    public var pongTimeout: Duration

    public init(
        url: String, token: String?, caFile: String? = nil, maxMessageSize: Int = 64 << 20,
        pingInterval: Duration? = .seconds(30), pongTimeout: Duration = .seconds(20)
    ) {
        self.url = url
        self.token = token
        self.caFile = caFile
        self.maxMessageSize = maxMessageSize
        self.pingInterval = pingInterval
        self.pongTimeout = pongTimeout
    }
}

/// A client's session with a worker: answers `fetch_module` from a ``SourceSet``, prints the
/// run's output, and sends `run`, `request_plugin_info` and friends.
///
/// The JSON-RPC peer (an actor) owns request state; the reader task feeds it the socket's
/// messages until the connection closes. Source files are read on `NIOThreadPool.singleton`
/// (the same pool ``TreeServer`` uses), never on the cooperative pool or an event loop.
public final class ClientSession: Sendable {
    public let endpoint: WorkerEndpoint
    private let transport: WebSocketSession
    private let peer: JSONRPCPeer
    private let reader: Task<Void, Never>
    private let logger: Logger
    /// Receives the run's output; see ``onOutput(_:)``.
    private let outputHandler = OutputHandlerSlot()
    /// The most the worker accepts in one prefetch (its `prefetch` capability); disabled for a
    /// worker that did not offer it, such as the reference plugin. Set once by `connect`.
    private let workerPrefetch = Mutex(PrefetchLimits.disabled)
    /// The worker's `tree` capability (nil: it takes no manifest). Set once by `connect`.
    private let workerTree = Mutex<TreeOffer?>(nil)
    /// Answers `tree/read` for the snapshots of this session's runs.
    private let trees: TreeServer
    /// Snapshots named so far (for unique ids) and whether `tree/read` is registered.
    private let treeState = Mutex<(snapshots: Int, registered: Bool)>((0, false))
    /// Why the connection ended, when that is worth more than "the peer closed": set by the
    /// reader before it closes the peer, so a request failing with `closed` finds it.
    private let failure = ConnectionFailure()

    private init(endpoint: WorkerEndpoint, transport: WebSocketSession, peer: JSONRPCPeer, logger: Logger) {
        self.endpoint = endpoint
        self.transport = transport
        self.peer = peer
        self.logger = logger
        self.trees = TreeServer(maxReplyBytes: TreeOffer(maxMessageSize: endpoint.maxMessageSize).maxReplyBytes, logger: logger)
        let handler = outputHandler
        let failure = self.failure
        reader = Task {
            // Output is delivered here, inline: the next message is read only once the handler
            // has taken the text, so a slow consumer of the output slows the run (through the
            // connection's backpressure) instead of queueing without bound. Everything else, and
            // output from a worker that spells the message differently, goes to the peer.
            do {
                for try await text in transport.messages {
                    if text.hasPrefix(OutputParams.messagePrefix), let deliver = handler.handler,
                        case .single(.success(.notification(let notification))) = JSONRPCDecoder.decode(text),
                        let output = try? OutputParams(json: notification.params)
                    {
                        await deliver(output.stream, output.text)
                    } else {
                        await peer.receive(text)
                    }
                }
                await peer.close(reason: "connection closed")
            } catch {
                if case WebSocketTransportError.closed(_, let status?) = error, let silence = status.silence {
                    let silent = ClientError.workerStoppedAnswering(url: endpoint.url, silence: silence)
                    failure.record(silent)
                    logger.debug("\(silent)")
                }
                await peer.close(reason: "connection closed: \(error)")
            }
        }
    }

    /// `error`, or the reason the connection ended when the request failed because it did.
    private func explained(_ error: any Error) -> any Error {
        guard case JSONRPCPeerError.closed = error, let failure = failure.error else { return error }
        return failure
    }

    /// Connects and performs `initialize`. Errors read like `401: token rejected by ws://…`.
    public static func connect(to endpoint: WorkerEndpoint, logger: Logger) async throws -> ClientSession {
        let transport: WebSocketSession
        do {
            var configuration = WebSocketClientConfiguration(
                url: endpoint.url, token: endpoint.token, caFile: endpoint.caFile, maxMessageSize: endpoint.maxMessageSize,
                pingInterval: endpoint.pingInterval, pongTimeout: endpoint.pongTimeout)
            configuration.maxQueuedOutboundBytes = endpoint.maxQueuedOutboundBytes
            transport = try await WebSocketClient.connect(configuration: configuration, logger: logger)
        } catch {
            throw ClientError.connectFailed(url: endpoint.url, reason: "\(error)")
        }
        let peer = JSONRPCPeer(
            label: "client \(endpoint.url)",
            configuration: .init(
                defaultRequestTimeout: nil, maxMessageSize: endpoint.maxMessageSize,
                maxBatchSize: endpoint.maxBatchSize, maxRequestsInFlight: endpoint.maxRequestsInFlight),
            logger: logger,
            send: { text in try await transport.send(text) })
        let session = ClientSession(endpoint: endpoint, transport: transport, peer: peer, logger: logger)
        let reply: JSONValue
        do {
            reply = try await session.peer.request(
                WireMethod.initialize,
                params: InitializeParams(clientName: "rfs", clientVersion: RFSVersion.current).json,
                timeout: .seconds(30))
        } catch {
            throw session.explained(error)
        }
        let result: InitializeResult
        do {
            result = try InitializeResult(json: reply)
        } catch {
            await session.close()
            throw ClientError.protocolMismatch(url: endpoint.url, reason: "unexpected initialize result \(reply.serialized()): \(error)")
        }
        guard WireProtocol.supportedVersions.contains(result.protocolVersion) else {
            await session.close()
            throw ClientError.protocolMismatch(
                url: endpoint.url, reason: "worker chose protocol version \(result.protocolVersion), this client speaks \(WireProtocol.supportedVersions)")
        }
        session.workerPrefetch.withLock { $0 = PrefetchLimits(offer: result.capabilities.prefetch) }
        session.workerTree.withLock { $0 = result.capabilities.tree }
        return session
    }

    /// What the worker accepts in one prefetch; `.disabled` when it does not prefetch.
    public var prefetchOffered: PrefetchLimits {
        workerPrefetch.withLock { $0 }
    }

    /// The worker's `tree` offer: when present, runs carry a manifest (``run(code:filename:argv:connectionID:topLevelNames:tree:)``)
    /// and the worker reads files with `tree/read`.
    public var treeOffered: TreeOffer? {
        workerTree.withLock { $0 }
    }

    /// A snapshot id unique within this session: `c1-1`, `c1-2`, …
    public func nextSnapshotID() -> String {
        let number = treeState.withLock { state in
            state.snapshots += 1
            return state.snapshots
        }
        return "c1-\(number)"
    }

    /// Answers `tree/read` for `snapshot` (and the session's previous few) from now on.
    public func serveTree(_ snapshot: TreeSnapshot) async {
        trees.add(snapshot)
        let register = treeState.withLock { state in
            defer { state.registered = true }
            return !state.registered
        }
        guard register else { return }
        let trees = self.trees
        await peer.register(WireMethod.treeRead) { request in
            try await trees.handle(request.params)
        }
    }

    /// Answers the worker's `fetch_module` requests from `sources`, logging each at info level.
    ///
    /// A package's reply also carries the modules below it (`"prefetched"`), within `prefetch`
    /// and what the worker offered in `initialize`; a worker that offered nothing gets the plain
    /// DESIGN.md §3 reply. Files are read on `NIOThreadPool.singleton`. A module whose source
    /// cannot be served (undecodable, over `--max-file-size`, unreadable) is answered with
    /// ``FetchModuleFailure/sourceUnavailableCode`` and a message naming the file, which the
    /// worker's finder raises as the script's ImportError.
    public func serve(_ sources: SourceSet, prefetch: PrefetchLimits = .default) async {
        let logger = self.logger
        let limits = prefetch.clamped(to: prefetchOffered)
        await peer.register(WireMethod.fetchModule) { request in
            let name = try FetchModuleParams(json: request.params).moduleName
            // Reserve the worst case before reading (the largest file served plus the prefetch
            // budget), then keep only what the reply needs: however many fetches a worker sends
            // at once, the replies being built stay within the session's reply budget.
            try await JSONRPCPeer.reserveReplyBytes(sources.maxReplyBytes(prefetching: limits))
            let found = try await Self.lookUp(name, in: sources, prefetching: limits, logger: logger)
            JSONRPCPeer.trimReplyReservation(to: (found?.sourceBytes ?? 0) + 1024)
            return found?.result.json ?? .null
        }
    }

    /// Looks `name` up in `sources` on `NIOThreadPool.singleton` (never on an event loop or the
    /// cooperative pool) and logs it: the one `fetch_module` answer shared by worker sessions and
    /// Deephaven's plugin stream. A module whose source cannot be served is the
    /// ``FetchModuleFailure/sourceUnavailableCode`` error naming the file; any other failure is
    /// an internal error naming the module.
    public static func lookUp(
        _ name: String, in sources: SourceSet, prefetching limits: PrefetchLimits, logger: Logger
    ) async throws(JSONRPCError) -> ModuleLookup? {
        let start = ContinuousClock.now
        let found: ModuleLookup?
        do {
            found = try await NIOThreadPool.singleton.runIfActive { try sources.lookup(name, prefetching: limits) }
        } catch let error as ModuleIndexError {
            // The script's ImportError says this; `rfs serve` logs it at its default level.
            logger.info("fetch failed", metadata: ["module": "\(name)", "error": "\(error)"])
            throw Self.sourceUnavailable(error)
        } catch {
            logger.warning("fetch failed", metadata: ["module": "\(name)", "error": "\(error)"])
            throw JSONRPCError.internalError("fetch_module \(name): \(error)")
        }
        let elapsed = ContinuousClock.now - start
        let micros = elapsed.components.seconds * 1_000_000 + elapsed.components.attoseconds / 1_000_000_000_000
        logger.info(
            "fetch",
            metadata: [
                "module": "\(name)", "found": "\(found != nil)", "prefetched": "\(found?.prefetched.count ?? 0)",
                "bytes": "\(found?.sourceBytes ?? 0)", "us": "\(micros)",
            ])
        return found
    }

    /// The `fetch_module` error for a module whose source cannot be served; its message is what
    /// the script's ImportError says.
    public static func sourceUnavailable(_ error: ModuleIndexError) -> JSONRPCError {
        var data: [String: JSONValue] = ["path": .string(error.path)]
        let message: String
        switch error.problem {
        case .undecodable(let line, let encoding)?:
            data["reason"] = "undecodable"
            data["line"] = .int(Int64(line))
            data["encoding"] = .string(encoding)
            message = error.description
        case .tooLarge(let size, let limit)?:
            data["reason"] = "too_large"
            data["size"] = .int(size)
            data["limit"] = .int(limit)
            message = "cannot import \(error.path): \(error.detail); raise --max-file-size to serve it"
        case nil:
            data["reason"] = "unreadable"
            message = "cannot read \(error.description)"
        }
        return FetchModuleFailure.sourceUnavailable(message: message, data: data)
    }

    /// Delivers `output` notifications (the run's stdout/stderr) to `handler` as they arrive, in
    /// order; the session reads nothing else while the handler runs (see the reader).
    public func onOutput(_ handler: @escaping @Sendable (_ stream: OutputStreamKind, _ text: String) async -> Void) async {
        outputHandler.set(handler)
        await peer.registerNotification(WireMethod.output) { params in
            guard let output = try? OutputParams(json: params) else { return }
            await handler(output.stream, output.text)
        }
    }

    public func setConnectionID(_ id: String) async throws {
        do {
            _ = try await peer.request(WireMethod.setConnectionID, params: SetConnectionIDParams(id: id).json, timeout: .seconds(30))
        } catch {
            throw explained(error)
        }
    }

    /// Top-level names of the worker's current execution context.
    public func pluginInfo() async throws -> [String] {
        let reply: JSONValue
        do {
            reply = try await peer.request(WireMethod.requestPluginInfo, params: .object([:]), timeout: .seconds(30))
        } catch {
            throw explained(error)
        }
        do {
            return try PluginInfoResult(json: reply).fullNames
        } catch {
            throw ClientError.unexpectedReply(method: WireMethod.requestPluginInfo, detail: "\(reply.serialized()): \(error)")
        }
    }

    /// Runs `code` on the worker. Cancelling the calling task sends `$/cancelRequest`; the
    /// worker interrupts the script (KeyboardInterrupt), and this keeps delivering the script's
    /// output until the worker's reply, so what the script prints while it stops is shown; the
    /// outcome is then ``RunOutcome/cancelled``.
    ///
    /// `tree`: the manifest of the run's folders, for a worker that offered the `tree`
    /// capability (serve its snapshot with ``serveTree(_:)`` first).
    public func run(
        code: String, filename: String, argv: [String], connectionID: String?, topLevelNames: [String], tree: TreeManifest? = nil
    ) async throws -> RunOutcome {
        let params = RunParams(
            code: code, filename: filename, argv: argv,
            context: ExecutionContext(connectionID: connectionID, topLevelNames: topLevelNames), tree: tree)
        let reply: JSONValue
        do {
            reply = try await peer.requestAwaitingCancellation(WireMethod.run, params: params.json, timeout: nil)
        } catch let error as JSONRPCError where error.code == JSONRPCError.requestCancelled {
            return .cancelled
        } catch is CancellationError {
            return .cancelled
        } catch {
            throw explained(error)
        }
        do {
            return .finished(try RunResult(json: reply))
        } catch {
            throw ClientError.unexpectedReply(method: WireMethod.run, detail: "\(reply.serialized()): \(error)")
        }
    }

    /// Waits until the connection ends (for `rfs serve`).
    ///
    /// - Throws: ``ClientError/workerStoppedAnswering(url:silence:)`` when the keepalive gave up
    ///   on a silent worker; any other end (the worker closed, the connection dropped) returns.
    public func waitUntilClosed() async throws {
        await reader.value
        if let failure = failure.error { throw failure }
    }

    public func close() async {
        await transport.close(code: .normalClosure, reason: nil)
        await peer.close(reason: "client closed the session")
        await reader.value
    }
}

/// The output handler, shared by the session and its reader task. The closure is boxed: reading
/// a closure straight out of a `Mutex` re-wraps it on every read (see RFSPython's `SendableBox`).
final class OutputHandlerSlot: Sendable {
    private final class Box: Sendable {
        let handler: @Sendable (OutputStreamKind, String) async -> Void
        init(_ handler: @escaping @Sendable (OutputStreamKind, String) async -> Void) { self.handler = handler }
    }

    private let box = Mutex<Box?>(nil)

    func set(_ handler: @escaping @Sendable (OutputStreamKind, String) async -> Void) {
        box.withLock { $0 = Box(handler) }
    }

    var handler: (@Sendable (OutputStreamKind, String) async -> Void)? {
        box.withLock { $0 }?.handler
    }
}

/// Why the session's connection ended, when that says more than "closed" (a silent worker).
/// Written once by the reader task before it closes the peer; read by whoever sees `closed`.
final class ConnectionFailure: Sendable {
    private let value = Mutex<ClientError?>(nil)

    func record(_ error: ClientError) {
        value.withLock { $0 = error }
    }

    var error: ClientError? {
        value.withLock { $0 }
    }
}
