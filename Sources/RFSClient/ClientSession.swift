import Foundation
import Logging
import RFSModuleIndex
import RFSProtocol
import RFSTransport
import Synchronization

/// Where and how to reach a worker.
public struct WorkerEndpoint: Sendable {
    public var url: String
    public var token: String?
    public var caFile: String?
    public var maxMessageSize: Int

    public init(url: String, token: String?, caFile: String? = nil, maxMessageSize: Int = 64 << 20) {
        self.url = url
        self.token = token
        self.caFile = caFile
        self.maxMessageSize = maxMessageSize
    }
}

/// A client's session with a worker: answers `fetch_module` from a ``SourceSet``, prints the
/// run's output, and sends `run`, `request_plugin_info` and friends.
///
/// The JSON-RPC peer (an actor) owns request state; the reader task feeds it the socket's
/// messages until the connection closes.
public final class ClientSession: Sendable {
    public let endpoint: WorkerEndpoint
    private let transport: WebSocketSession
    private let peer: JSONRPCPeer
    private let reader: Task<Void, Never>
    private let logger: Logger
    /// The most the worker accepts in one prefetch (its `prefetch` capability); disabled for a
    /// worker that did not offer it, such as the reference plugin. Set once by `connect`.
    private let workerPrefetch = Mutex(PrefetchLimits.disabled)

    private init(endpoint: WorkerEndpoint, transport: WebSocketSession, peer: JSONRPCPeer, logger: Logger) {
        self.endpoint = endpoint
        self.transport = transport
        self.peer = peer
        self.logger = logger
        reader = Task { await peer.run(inbound: transport.messages) }
    }

    /// Connects and performs `initialize`. Errors read like `401: token rejected by ws://…`.
    public static func connect(to endpoint: WorkerEndpoint, logger: Logger) async throws -> ClientSession {
        let transport: WebSocketSession
        do {
            transport = try await WebSocketClient.connect(
                configuration: WebSocketClientConfiguration(
                    url: endpoint.url, token: endpoint.token, caFile: endpoint.caFile,
                    maxMessageSize: endpoint.maxMessageSize),
                logger: logger)
        } catch {
            throw ClientError.connectFailed(url: endpoint.url, reason: "\(error)")
        }
        let peer = JSONRPCPeer(
            label: "client \(endpoint.url)",
            configuration: .init(defaultRequestTimeout: nil, maxMessageSize: endpoint.maxMessageSize),
            logger: logger,
            send: { text in try await transport.send(text) })
        let session = ClientSession(endpoint: endpoint, transport: transport, peer: peer, logger: logger)
        let reply = try await session.peer.request(
            "initialize",
            params: ["protocol_versions": [1], "client": ["name": "rfs", "version": .string(RFSVersion.current)]],
            timeout: .seconds(30))
        guard case .int(1)? = reply["protocol_version"] else {
            await session.close()
            throw ClientError.protocolMismatch(url: endpoint.url, reason: "worker did not agree on protocol version 1: \(reply.serialized())")
        }
        session.workerPrefetch.withLock { $0 = PrefetchLimits(capability: reply["capabilities"]?["prefetch"]) }
        return session
    }

    /// What the worker accepts in one prefetch; `.disabled` when it does not prefetch.
    public var prefetchOffered: PrefetchLimits {
        workerPrefetch.withLock { $0 }
    }

    /// Answers the worker's `fetch_module` requests from `sources`, logging each at info level.
    ///
    /// A package's reply also carries the modules below it (`"prefetched"`), within `prefetch`
    /// and what the worker offered in `initialize`; a worker that offered nothing gets the plain
    /// DESIGN.md §3 reply.
    public func serve(_ sources: SourceSet, prefetch: PrefetchLimits = .default) async {
        let logger = self.logger
        let limits = prefetch.clamped(to: prefetchOffered)
        await peer.register("fetch_module") { request in
            guard case .string(let name)? = request.params?["module_name"] else {
                throw JSONRPCError.invalidParams("fetch_module: 'module_name' must be a string")
            }
            let start = ContinuousClock.now
            let found: ModuleLookup?
            do {
                found = try sources.lookup(name, prefetching: limits)
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
            return found?.jsonValue ?? .null
        }
    }

    /// Delivers `output` notifications (the run's stdout/stderr) to `handler` as they arrive.
    public func onOutput(_ handler: @escaping @Sendable (_ stream: String, _ text: String) -> Void) async {
        await peer.registerNotification("output") { params in
            guard case .string(let stream)? = params?["stream"], case .string(let text)? = params?["text"] else { return }
            handler(stream, text)
        }
    }

    public func setConnectionID(_ id: String) async throws {
        _ = try await peer.request("set_connection_id", params: ["id": .string(id)], timeout: .seconds(30))
    }

    /// Top-level names of the worker's current execution context.
    public func pluginInfo() async throws -> [String] {
        let reply = try await peer.request("request_plugin_info", params: .object([:]), timeout: .seconds(30))
        guard case .array(let names)? = reply["full_names"] else {
            throw ClientError.unexpectedReply(method: "request_plugin_info", detail: reply.serialized())
        }
        return names.compactMap(\.stringValue)
    }

    /// Runs `code` on the worker. Cancelling the calling task sends `$/cancelRequest`; the
    /// worker interrupts the script and the result is ``RunResult/cancelled``.
    public func run(code: String, filename: String, argv: [String], connectionID: String?, topLevelNames: [String]) async throws -> RunResult {
        let params: JSONValue = [
            "code": .string(code), "filename": .string(filename), "argv": .array(argv.map(JSONValue.string)),
            "context": [
                "connection_id": connectionID.map(JSONValue.string) ?? .null,
                "top_level_names": .array(topLevelNames.map(JSONValue.string)),
            ],
        ]
        do {
            return try RunResult(reply: try await peer.request("run", params: params, timeout: nil))
        } catch let error as JSONRPCError where error.code == JSONRPCError.requestCancelled {
            return .cancelled
        } catch is CancellationError {
            return .cancelled
        }
    }

    /// Waits until the worker closes the connection (for `rfs serve`).
    public func waitUntilClosed() async {
        await reader.value
    }

    public func close() async {
        await transport.close(code: .normalClosure, reason: nil)
        await peer.close(reason: "client closed the session")
        await reader.value
    }
}
