import Logging
import Synchronization

/// One end of a JSON-RPC 2.0 session: it both serves calls (handlers registered by method
/// name) and makes calls (``request(_:params:timeout:)``), over any transport that can carry
/// text messages in both directions.
///
/// The transport hands every inbound text to ``receive(_:)`` (or ``run(inbound:)``) and gives
/// the peer a `send` closure for outbound text. The peer owns everything in between:
/// validation, id correlation, timeouts, cancellation and error replies.
///
/// Concurrency model:
/// - Inbound requests run concurrently, each handler in its own task; the actor only
///   bookkeeps, so a slow handler never delays another request or an incoming reply.
/// - Parsing and serializing happen off the actor (in ``receive(_:)`` and in handler tasks),
///   so a megabyte-sized message does not hold the actor.
/// - Notification handlers run one at a time in arrival order, so streamed notifications
///   (such as `output`) are handled in the order they were sent; keep them short. When they
///   fall behind, ``receive(_:)`` waits for them (see
///   ``Configuration/maxQueuedNotificationBytes``), so a handler must never wait for another
///   inbound message of the same peer.
/// - What the other side can make the peer hold is bounded by the limits of ``Configuration``.
/// - `$/cancelRequest` is handled by the peer itself, immediately.
public actor JSONRPCPeer {
    /// Name of the peer in logs ("worker", "client", a session id).
    public nonisolated let label: String
    public nonisolated let configuration: Configuration
    nonisolated let logger: Logger
    nonisolated let send: @Sendable (String) async throws -> Void

    /// Outgoing requests awaiting their reply, by id.
    var pendingRequests: [JSONRPCID: PendingRequest] = [:]
    /// How many entries of `pendingRequests` are verbatim requests. Read by the nonisolated
    /// ``receive(_:)`` without entering the actor, so that inbound messages are only scanned
    /// for a verbatim reply while one can arrive; every other message is parsed as before,
    /// at no extra cost.
    nonisolated let verbatimRequestsPending = Atomic<Int>(0)
    /// The next outgoing request id; ids are never reused within a session.
    var nextRequestNumber: Int64 = 1
    /// Tasks running handlers of incoming requests, by request id (for `$/cancelRequest`).
    var runningHandlers: [JSONRPCID: Task<Void, Never>] = [:]
    /// Inbound requests in flight: handlers running or their replies (a batch's: the whole
    /// batch's) not yet handed to `send`. Bounded by ``Configuration/maxRequestsInFlight``.
    var repliesOwed = 0
    /// Callers of ``waitUntilIdle()``, resumed when `repliesOwed` drops to zero.
    var idleWaiters: [CheckedContinuation<Void, Never>] = []
    var requestHandlers: [String: @Sendable (JSONRPCRequest) async throws -> JSONValue] = [:]
    var notificationHandlers: [String: @Sendable (JSONValue?) async -> Void] = [:]
    /// Set once by ``close(reason:)``.
    var closeReason: String?
    var closeWaiters: [CheckedContinuation<String, Never>] = []
    /// Feeds notification deliveries, in arrival order, to the task that runs them.
    let notificationQueue: AsyncStream<NotificationDelivery>.Continuation
    let notificationWorker: Task<Void, Never>
    /// Bytes of messages whose notifications are queued; bounds the queue above.
    nonisolated let notificationBacklog: NotificationBacklog
    /// Bytes of replies the handlers reserved and hold (``reserveReplyBytes(_:)``).
    nonisolated let replyBudget: ByteBudget

    /// The name of the notification that cancels an incoming request (LSP's convention):
    /// `{"jsonrpc":"2.0","method":"$/cancelRequest","params":{"id":<id>}}`.
    public static let cancelRequestMethod = "$/cancelRequest"

    /// - Parameters:
    ///   - label: name of this peer in logs.
    ///   - send: writes one text message to the transport. It may be called concurrently; it
    ///     should throw when the transport is closed.
    public init(
        label: String,
        configuration: Configuration = .init(),
        logger: Logger = Logger(label: "rfs.jsonrpc"),
        send: @escaping @Sendable (String) async throws -> Void
    ) {
        self.label = label
        self.configuration = configuration
        var logger = logger
        logger[metadataKey: "rpc.peer"] = .string(label)
        self.logger = logger
        self.send = send
        let (deliveries, queue) = AsyncStream.makeStream(of: NotificationDelivery.self)
        let backlog = NotificationBacklog(limit: configuration.maxQueuedNotificationBytes)
        self.notificationQueue = queue
        self.notificationBacklog = backlog
        self.replyBudget = ByteBudget(limit: configuration.maxReplyBytesHeld)
        self.notificationWorker = Task {
            for await delivery in deliveries {
                await delivery.handler(delivery.params)
                if delivery.cost > 0 { backlog.remove(delivery.cost) }
            }
        }
    }

    deinit {
        // A peer dropped without `close` must not leave its notification task waiting forever.
        notificationQueue.finish()
        notificationWorker.cancel()
        notificationBacklog.close()
    }

    // MARK: Handlers

    /// Serves `method`: the handler's return value is the result (`.null` for `null`). A thrown
    /// ``JSONRPCError`` is sent as it is; any other error becomes `-32603` naming the method and
    /// the error. `$/cancelRequest` cancels the handler's task: if it then ends by throwing
    /// (anything), the reply is `-32800 Request cancelled`; if it still returns a result, that
    /// result is sent. Registering a method again replaces its handler.
    public func register(
        _ method: String,
        handler: @escaping @Sendable (JSONRPCRequest) async throws -> JSONValue
    ) {
        requestHandlers[method] = handler
    }

    /// Handles notifications named `method` (never answered). `$/cancelRequest` is handled by
    /// the peer and cannot be registered.
    public func registerNotification(_ method: String, handler: @escaping @Sendable (JSONValue?) async -> Void) {
        notificationHandlers[method] = handler
    }

    // MARK: Lifecycle

    /// Whether ``close(reason:)`` has been called (or the inbound sequence given to
    /// ``run(inbound:)`` has ended).
    public var isClosed: Bool { closeReason != nil }

    /// Ends the session: every pending outgoing request fails at once with
    /// ``JSONRPCPeerError/closed(reason:)``, running handlers are cancelled (their replies are
    /// not sent), later calls throw `.closed` immediately and inbound messages are ignored.
    /// Closing again does nothing. The transport is not touched: closing it is its owner's job
    /// (see ``waitUntilClosed()``).
    public func close(reason: String) async {
        guard closeReason == nil else { return }
        closeReason = reason
        logger.debug("closing JSON-RPC peer", metadata: [
            "reason": .string(reason),
            "pending": .stringConvertible(pendingRequests.count),
            "running": .stringConvertible(runningHandlers.count),
        ])
        let failure = JSONRPCPeerError.closed(reason: reason)
        for id in Array(pendingRequests.keys) {
            complete(id, with: .failure(failure))
        }
        for task in runningHandlers.values { task.cancel() }
        runningHandlers.removeAll()
        notificationQueue.finish()
        notificationWorker.cancel()
        notificationBacklog.close()
        for waiter in closeWaiters { waiter.resume(returning: reason) }
        closeWaiters.removeAll()
    }

    /// Suspends until the peer is closed and returns the reason; returns at once when it
    /// already is. Lets a transport close its connection when the peer closes. Not
    /// cancellable: it returns only when the peer closes.
    public func waitUntilClosed() async -> String {
        if let closeReason { return closeReason }
        return await withCheckedContinuation { closeWaiters.append($0) }
    }

    func ensureOpen() throws {
        if let closeReason { throw JSONRPCPeerError.closed(reason: closeReason) }
    }
}

/// One notification waiting for its handler.
struct NotificationDelivery: Sendable {
    let handler: @Sendable (JSONValue?) async -> Void
    let params: JSONValue?
    /// Bytes of ``JSONRPCPeer/notificationBacklog`` released once this one is handled: the size
    /// of its inbound message, carried by the last notification queued from that message.
    var cost = 0
}
