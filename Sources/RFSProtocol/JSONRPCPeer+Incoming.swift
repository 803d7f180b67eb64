import Logging

/// Messages from the other side: requests to serve, notifications, replies to our requests,
/// and whatever is not valid JSON-RPC. Nothing here throws: a bad message gets its error reply
/// (or is logged) and the session carries on.
extension JSONRPCPeer {
    /// Handles one inbound text message: a single message or a batch. Returns once the message
    /// is dispatched (handlers keep running in their own tasks); never throws.
    ///
    /// Nonisolated so that parsing, which can take a while for a large message, happens before
    /// the peer's actor is entered.
    ///
    /// While a verbatim request is pending, a message is first scanned (validated without
    /// building values, see ``JSONRPCEnvelope``): a single, valid response to a verbatim request
    /// completes it with the text itself and is never parsed. Anything else is then parsed and
    /// dispatched as usual: it costs one extra scan, but only while verbatim requests are
    /// pending, and for a call only up to its `method` member (the scan stops there). With none
    /// pending, the check is one atomic load.
    public nonisolated func receive(_ text: String) async {
        let size = text.utf8.count
        guard size <= configuration.maxMessageSize else {
            let reason = "message of \(size) bytes exceeds the limit of \(configuration.maxMessageSize) bytes"
            logger.warning("refusing inbound message", metadata: ["reason": .string(reason)])
            RFSMetrics.reject(.messageTooLarge)
            if await !isClosed {
                await transmit(.single(JSONRPCResponse(id: nil, error: protocolError(.invalidRequest(reason)))))
            }
            return
        }
        if verbatimRequestsPending.load(ordering: .relaxed) > 0,
           let response = JSONRPCEnvelope.response(in: text, maxDepth: configuration.maxNestingDepth),
           await acceptVerbatimReply(to: response.id, JSONRPCVerbatimReply(text: text, isError: response.isError)) {
            return
        }
        let inbound = JSONRPCDecoder.decode(text, maxDepth: configuration.maxNestingDepth)
        if let reply = await dispatch(inbound, size: size) {
            await transmit(reply)
        }
        // Notification handlers behind: read nothing more until they catch up.
        await notificationBacklog.waitForRoom()
    }

    /// Feeds every message of `inbound` to ``receive(_:)`` in order, then closes the peer with
    /// reason "connection closed" when the sequence ends (or "connection closed: <error>" when
    /// it throws).
    public nonisolated func run<S: AsyncSequence>(inbound: S) async where S.Element == String {
        do {
            for try await text in inbound {
                await receive(text)
            }
            await close(reason: "connection closed")
        } catch {
            await close(reason: "connection closed: \(error)")
        }
    }

    // MARK: Dispatch

    /// A reply owed right away, without running a handler.
    enum ImmediateReply: Sendable {
        case single(JSONRPCResponse)
        /// A batch's reply, already encoded within the size limit (``JSONRPCBatchReply``).
        case batchText(String)
    }

    /// Where a handler's reply goes.
    private enum ReplyRoute: Sendable {
        /// Sent alone, as soon as the handler finishes.
        case single
        /// Slot `index` of a batch's reply.
        case batch(JSONRPCBatchReply, index: Int)
    }

    /// One item of a batch that is owed a reply: a request, or an invalid item (its error).
    private enum BatchSlot {
        case request(JSONRPCRequest)
        case ready(JSONRPCResponse)

        var replyID: JSONRPCID? {
            switch self {
            case .request(let request): request.id
            case .ready(let response): response.id
            }
        }
    }

    /// Acts on a decoded message of `size` bytes and returns the reply that is owed at once, if
    /// any. Replies of handlers are sent by their tasks (a batch's by the last one to finish).
    private func dispatch(_ inbound: JSONRPCInbound, size: Int) -> ImmediateReply? {
        guard closeReason == nil else {
            logger.debug("ignoring inbound message: peer is closed")
            return nil
        }
        var notifications: [NotificationDelivery] = []
        defer { enqueue(notifications, cost: size) }
        switch inbound {
        case .unparseable(let error):
            logger.warning("inbound message is not valid JSON", metadata: ["error": .string(error.description)])
            RFSMetrics.reject(.parseError)
            return .single(JSONRPCResponse(id: nil, error: protocolError(.parseError(error.description))))
        case .emptyBatch:
            logger.warning("inbound message is an empty batch")
            RFSMetrics.reject(.invalidRequest)
            return .single(JSONRPCResponse(id: nil, error: protocolError(.invalidRequest("empty batch"))))
        case .single(let item):
            guard let slot = classify(item, notifications: &notifications) else { return nil }
            switch slot {
            case .ready(let response):
                return .single(response)
            case .request(let request):
                switch start(request, route: .single) {
                case .some(let refusal): return .single(refusal)
                case .none: return nil
                }
            }
        case .batch(let items):
            guard items.count <= configuration.maxBatchSize else {
                let message = "batch of \(items.count) requests exceeds the limit of \(configuration.maxBatchSize) (max_batch_size)"
                logger.warning("refusing inbound batch", metadata: ["reason": .string(message)])
                RFSMetrics.reject(.batchTooLarge)
                return .single(JSONRPCResponse(id: nil, error: .limitExceeded(message)))
            }
            return dispatchBatch(items, notifications: &notifications)
        }
    }

    /// A batch of at most ``Configuration/maxBatchSize`` items: notifications and replies are
    /// acted on, requests started, and their replies gathered into one ``JSONRPCBatchReply``.
    private func dispatchBatch(_ items: [JSONRPCInboundItem], notifications: inout [NotificationDelivery]) -> ImmediateReply? {
        let slots = items.compactMap { classify($0, notifications: &notifications) }
        // A batch of only notifications (and replies) gets no reply at all, not an empty array.
        guard !slots.isEmpty else { return nil }
        guard let reply = JSONRPCBatchReply(ids: slots.map(\.replyID), limit: configuration.maxMessageSize) else {
            let message = "the error replies of a batch of \(items.count) requests alone would exceed the limit of \(configuration.maxMessageSize) bytes (max_message_size)"
            logger.warning("refusing inbound batch", metadata: ["reason": .string(message)])
            RFSMetrics.reject(.replyTooLarge)
            return .single(JSONRPCResponse(id: nil, error: .limitExceeded(message)))
        }
        var text: String?
        for (index, slot) in slots.enumerated() {
            // Started handlers settle their own slots.
            let settled: JSONRPCResponse
            switch slot {
            case .ready(let response):
                settled = response
            case .request(let request):
                guard let refusal = start(request, route: .batch(reply, index: index)) else { continue }
                settled = refusal
            }
            let outcome = reply.settle(index, with: settled)
            if outcome.overflowed { RFSMetrics.reject(.replyTooLarge) }
            // Complete here only when no handler started: handlers settle only after this
            // returns (they need the actor to retire), and the last of them sends the batch.
            if outcome.complete { text = outcome.batchText }
        }
        return text.map(ImmediateReply.batchText)
    }

    /// Acts on a notification or a reply at once (a notification is added to `notifications`);
    /// returns what a request or an invalid item is owed.
    private func classify(_ item: JSONRPCInboundItem, notifications: inout [NotificationDelivery]) -> BatchSlot? {
        switch item {
        case .success(.request(let request)):
            return .request(request)
        case .success(.notification(let notification)):
            if let delivery = deliver(notification) { notifications.append(delivery) }
            return nil
        case .success(.response(let response)):
            acceptReply(response)
            return nil
        case .failure(let invalid):
            logger.warning("invalid inbound message", metadata: ["reason": .string(invalid.reason)])
            RFSMetrics.reject(.invalidRequest)
            if let id = invalid.responseID, let method = pendingMethod(id) {
                // The other side meant to answer this request of ours: fail it now, not at timeout.
                complete(id, with: .failure(JSONRPCPeerError.malformedResponse(method: method, reason: invalid.reason)))
            }
            return .ready(JSONRPCResponse(id: invalid.requestID, error: protocolError(.invalidRequest(invalid.reason))))
        }
    }

    /// Starts the handler of `request`, whose reply goes to `route`; returns the reply owed
    /// instead when it cannot start (unknown method, id in use, too many requests in flight).
    private func start(_ request: JSONRPCRequest, route: ReplyRoute) -> JSONRPCResponse? {
        guard let handler = requestHandlers[request.method] else {
            logger.debug("no handler for method", metadata: ["rpc.method": .string(request.method)])
            RFSMetrics.reject(.methodNotFound)
            return JSONRPCResponse(id: request.id, error: protocolError(.methodNotFound(request.method)))
        }
        guard runningHandlers[request.id] == nil else {
            // Answering with this id would be taken as the reply to the first request.
            let reason = "request id \(request.id) is already in use by a running request"
            logger.warning("invalid inbound request", metadata: ["reason": .string(reason)])
            RFSMetrics.reject(.invalidRequest)
            return JSONRPCResponse(id: nil, error: protocolError(.invalidRequest(reason)))
        }
        guard repliesOwed < configuration.maxRequestsInFlight else {
            let message = "too many requests in flight: the limit is \(configuration.maxRequestsInFlight) (max_requests_in_flight)"
            logger.warning("refusing inbound request", metadata: [
                "rpc.method": .string(request.method), "rpc.id": .stringConvertible(request.id), "reason": .string(message),
            ])
            RFSMetrics.reject(.tooManyRequests)
            return JSONRPCResponse(id: request.id, error: .limitExceeded(message))
        }
        repliesOwed += 1
        let task = Self.startHandler(handler, for: request, route: route, peer: self)
        runningHandlers[request.id] = task
        if case .batch(let reply, _) = route { reply.track(task) }
        return nil
    }

    /// Queues `deliveries` for the notification task; the last one carries `cost`, the bytes
    /// of their message, released once it has been handled.
    private func enqueue(_ deliveries: [NotificationDelivery], cost: Int) {
        guard var last = deliveries.last else { return }
        last.cost = cost
        notificationBacklog.add(cost)
        for delivery in deliveries.dropLast() { notificationQueue.yield(delivery) }
        notificationQueue.yield(last)
    }

    /// `$/cancelRequest` is acted on at once; another notification with a handler is returned
    /// for the notification task.
    private func deliver(_ notification: JSONRPCNotification) -> NotificationDelivery? {
        if notification.method == Self.cancelRequestMethod {
            cancelIncoming(notification.params)
            return nil
        }
        guard let handler = notificationHandlers[notification.method] else {
            logger.debug("no handler for notification", metadata: ["rpc.method": .string(notification.method)])
            return nil
        }
        return NotificationDelivery(handler: handler, params: notification.params)
    }

    /// `$/cancelRequest {"id": X}`: cancels the task of running request X; its handler's reply
    /// then becomes `-32800`. Unknown or finished ids are ignored (the reply may be on its way).
    private func cancelIncoming(_ params: JSONValue?) {
        guard let idValue = params?["id"], let id = JSONRPCID(idValue) else {
            logger.warning("ignoring \(Self.cancelRequestMethod) without a valid id", metadata: [
                "params": .string(params?.serialized() ?? "none"),
            ])
            return
        }
        guard let task = runningHandlers[id] else {
            logger.debug("\(Self.cancelRequestMethod) for a request that is not running", metadata: ["rpc.id": .stringConvertible(id)])
            return
        }
        task.cancel()
    }

    private func acceptReply(_ response: JSONRPCResponse) {
        guard let id = response.id else {
            // The other side could not read one of our messages, so it could not name it.
            logger.warning("the other side reported an error without a request id", metadata: [
                "error": .string(response.error?.description ?? "none"),
            ])
            return
        }
        if !complete(id, with: .success(.decoded(response))) {
            logger.notice("dropping reply for an unknown request id", metadata: ["rpc.id": .stringConvertible(id)])
        }
    }

    /// Completes verbatim request `id` with its reply's text; `false` when `id` names no pending
    /// verbatim request, and the message is left to the ordinary path (which parses it).
    private func acceptVerbatimReply(to id: JSONRPCID, _ reply: JSONRPCVerbatimReply) -> Bool {
        guard closeReason == nil else {
            logger.debug("ignoring inbound message: peer is closed")
            return true
        }
        guard isPendingVerbatim(id) else { return false }
        if !complete(id, with: .success(.verbatim(reply))) {
            // It already has its outcome (a timeout that its caller has not collected yet).
            logger.notice("dropping reply for an unknown request id", metadata: ["rpc.id": .stringConvertible(id)])
        }
        return true
    }

    /// `count` requests' replies went to `send` (or are no longer owed); wakes ``waitUntilIdle()``.
    func replySettled(_ count: Int = 1) {
        repliesOwed -= count
        guard repliesOwed == 0 else { return }
        let waiters = idleWaiters
        idleWaiters.removeAll()
        for waiter in waiters { waiter.resume() }
    }

    /// Returns once no incoming request is being handled and every reply owed has been handed
    /// to the transport: lets a server that shuts down answer in-flight requests before it closes.
    public func waitUntilIdle() async {
        guard repliesOwed > 0 else { return }
        await withCheckedContinuation { idleWaiters.append($0) }
    }

    /// Called by a handler's task when it has its reply: `true` if the reply should be sent,
    /// `false` once the peer is closed.
    private func retire(_ id: JSONRPCID) -> Bool {
        runningHandlers.removeValue(forKey: id)
        return closeReason == nil
    }

    /// Applies ``Configuration/detailedProtocolErrors``: the spec's bare error, or with `data`.
    private nonisolated func protocolError(_ error: JSONRPCError) -> JSONRPCError {
        guard !configuration.detailedProtocolErrors else { return error }
        var bare = error
        bare.data = nil
        return bare
    }

    // MARK: Handler tasks (created from nonisolated code so they do not start on the actor)

    private nonisolated static func startHandler(
        _ handler: @escaping @Sendable (JSONRPCRequest) async throws -> JSONValue,
        for request: JSONRPCRequest,
        route: ReplyRoute,
        peer: JSONRPCPeer
    ) -> Task<Void, Never> {
        Task {
            let reservation = JSONRPCReplyReservation(budget: peer.replyBudget)
            let response = await JSONRPCReplyReservation.$current.withValue(reservation) {
                await peer.perform(handler, for: request)
            }
            let open = await peer.retire(request.id)
            switch route {
            case .single:
                if open { await peer.transmit(.single(response)) }
                reservation.release()
                await peer.replySettled()
            case .batch(let reply, let index):
                // Every slot settles, even once the peer is closed, so the batch completes.
                let settled = reply.settle(index, with: open ? response : nil)
                // The reply is now text inside the batch, which its own limit bounds (at most
                // `maxMessageSize` for the whole batch). Holding the reservation until the batch
                // is sent would deadlock: the batch's other handlers may be waiting for room.
                reservation.release()
                if settled.overflowed { RFSMetrics.reject(.replyTooLarge) }
                // This request's reply is held in the batch until the batch is sent, by
                // whichever handler finishes last.
                guard settled.complete else { return }
                if let text = settled.batchText, await !peer.isClosed {
                    // The whole batch reply waits for room like any reply; it holds nothing of
                    // the budget while it waits, so no two replies can wait for each other.
                    let size = text.utf8.count
                    if (try? await peer.replyBudget.acquire(size)) != nil {
                        await peer.transmit(.batchText(text))
                        peer.replyBudget.release(size)
                    } else {
                        await peer.transmit(.batchText(text))
                    }
                }
                await peer.replySettled(settled.handlerCount)
            }
        }
    }

    /// Runs a handler and turns its outcome into the reply.
    private nonisolated func perform(
        _ handler: @Sendable (JSONRPCRequest) async throws -> JSONValue,
        for request: JSONRPCRequest
    ) async -> JSONRPCResponse {
        do {
            return JSONRPCResponse(id: request.id, result: try await handler(request))
        } catch {
            if error is CancellationError || Task.isCancelled {
                return JSONRPCResponse(id: request.id, error: .requestCancelled())
            }
            if let rpcError = error as? JSONRPCError {
                return JSONRPCResponse(id: request.id, error: rpcError)
            }
            logger.error("handler failed", metadata: [
                "rpc.method": .string(request.method), "rpc.id": .stringConvertible(request.id),
                "error": .string(String(describing: error)),
            ])
            return JSONRPCResponse(
                id: request.id,
                error: JSONRPCError(
                    code: JSONRPCError.internalError,
                    message: "Internal error in '\(request.method)': \(error)"))
        }
    }

    // MARK: Sending replies

    /// Encodes and sends a reply; a send failure is logged (the connection is going away).
    nonisolated func transmit(_ reply: ImmediateReply) async {
        let text: String
        switch reply {
        case .single(let response):
            text = encodeReply(response)
        case .batchText(let batchText):
            text = batchText
        }
        do {
            try await sendEvenIfCancelled(text)
        } catch {
            logger.warning("could not send reply", metadata: ["error": .string(String(describing: error))])
        }
    }

    /// A reply too large to send is replaced by a `-32002` error for the same id, so the caller
    /// learns why instead of waiting for a reply that never comes. Encoding stops as soon as the
    /// reply cannot fit, so an oversized reply is never built in full.
    private nonisolated func encodeReply(_ response: JSONRPCResponse) -> String {
        if let text = JSONRPCEncoder.encode(response, limit: configuration.maxMessageSize) { return text }
        let message = "reply exceeds the limit of \(configuration.maxMessageSize) bytes (max_message_size)"
        logger.error("reply too large", metadata: ["rpc.id": .string(response.id?.description ?? "null"), "reason": .string(message)])
        RFSMetrics.reject(.replyTooLarge)
        return JSONRPCEncoder.encode(JSONRPCResponse(id: response.id, error: .limitExceeded(message)))
    }
}
