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
        if let reply = await dispatch(inbound) {
            await transmit(reply)
        }
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
        case batch([JSONRPCResponse])
    }

    /// Where one reply of a batch will come from.
    private enum ReplySlot {
        case ready(JSONRPCResponse)
        case handler(Task<JSONRPCResponse?, Never>)
    }

    /// Acts on a decoded message and returns the reply that is owed at once, if any. Replies of
    /// handlers are sent by their tasks (a batch's by a task that gathers them in order).
    private func dispatch(_ inbound: JSONRPCInbound) -> ImmediateReply? {
        guard closeReason == nil else {
            logger.debug("ignoring inbound message: peer is closed")
            return nil
        }
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
            guard let slot = accept(item, repliesItself: true) else { return nil }
            if case .ready(let response) = slot { return .single(response) }
            return nil
        case .batch(let items):
            let slots = items.compactMap { accept($0, repliesItself: false) }
            let ready = slots.compactMap { slot -> JSONRPCResponse? in
                if case .ready(let response) = slot { return response }
                return nil
            }
            guard ready.count < slots.count else {
                // No handler to wait for. A batch of only notifications (and replies) gets no
                // reply at all, not an empty array.
                return ready.isEmpty ? nil : .batch(ready)
            }
            repliesOwed += 1
            Self.gatherBatchReply(slots, peer: self)
            return nil
        }
    }

    /// Acts on one message; returns where its reply comes from, or `nil` when none is owed.
    private func accept(_ item: JSONRPCInboundItem, repliesItself: Bool) -> ReplySlot? {
        switch item {
        case .success(.request(let request)):
            return start(request, repliesItself: repliesItself)
        case .success(.notification(let notification)):
            deliver(notification)
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

    private func start(_ request: JSONRPCRequest, repliesItself: Bool) -> ReplySlot {
        guard let handler = requestHandlers[request.method] else {
            logger.debug("no handler for method", metadata: ["rpc.method": .string(request.method)])
            RFSMetrics.reject(.methodNotFound)
            return .ready(JSONRPCResponse(id: request.id, error: protocolError(.methodNotFound(request.method))))
        }
        guard runningHandlers[request.id] == nil else {
            // Answering with this id would be taken as the reply to the first request.
            let reason = "request id \(request.id) is already in use by a running request"
            logger.warning("invalid inbound request", metadata: ["reason": .string(reason)])
            RFSMetrics.reject(.invalidRequest)
            return .ready(JSONRPCResponse(id: nil, error: protocolError(.invalidRequest(reason))))
        }
        repliesOwed += 1
        let task = Self.startHandler(handler, for: request, repliesItself: repliesItself, peer: self)
        runningHandlers[request.id] = task
        return .handler(task)
    }

    private func deliver(_ notification: JSONRPCNotification) {
        if notification.method == Self.cancelRequestMethod {
            cancelIncoming(notification.params)
            return
        }
        guard let handler = notificationHandlers[notification.method] else {
            logger.debug("no handler for notification", metadata: ["rpc.method": .string(notification.method)])
            return
        }
        notificationQueue.yield(NotificationDelivery(handler: handler, params: notification.params))
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

    /// A handler's reply went to `send` (or is no longer owed); wakes ``waitUntilIdle()``.
    func replySettled() {
        repliesOwed -= 1
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
        repliesItself: Bool,
        peer: JSONRPCPeer
    ) -> Task<JSONRPCResponse?, Never> {
        Task {
            let response = await peer.perform(handler, for: request)
            var unsent: JSONRPCResponse?
            if await peer.retire(request.id) {
                if repliesItself {
                    await peer.transmit(.single(response))
                } else {
                    unsent = response
                }
            }
            await peer.replySettled()
            return unsent
        }
    }

    /// Waits for every reply of a batch and sends them as one array, in request order.
    private nonisolated static func gatherBatchReply(_ slots: [ReplySlot], peer: JSONRPCPeer) {
        Task {
            var responses: [JSONRPCResponse] = []
            for slot in slots {
                switch slot {
                case .ready(let response):
                    responses.append(response)
                case .handler(let task):
                    // `nil` means the peer closed while the handler ran: send nothing.
                    guard let response = await task.value else {
                        await peer.replySettled()
                        return
                    }
                    responses.append(response)
                }
            }
            await peer.transmit(.batch(responses))
            await peer.replySettled()
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
        case .batch(let responses):
            text = encodeBatchReply(responses)
        }
        do {
            try await sendEvenIfCancelled(text)
        } catch {
            logger.warning("could not send reply", metadata: ["error": .string(String(describing: error))])
        }
    }

    /// A reply too large to send is replaced by a `-32603` error for the same id, so the caller
    /// learns why instead of waiting for a reply that never comes.
    private nonisolated func encodeReply(_ response: JSONRPCResponse) -> String {
        let text = JSONRPCEncoder.encode(response)
        let size = text.utf8.count
        guard size > configuration.maxMessageSize else { return text }
        let reason = "reply of \(size) bytes exceeds the message size limit of \(configuration.maxMessageSize) bytes"
        logger.error("reply too large", metadata: ["rpc.id": .string(response.id?.description ?? "null"), "reason": .string(reason)])
        return JSONRPCEncoder.encode(JSONRPCResponse(id: response.id, error: .internalError(reason)))
    }

    private nonisolated func encodeBatchReply(_ responses: [JSONRPCResponse]) -> String {
        let text = JSONRPCEncoder.joinBatch(responses.map(encodeReply))
        guard text.utf8.count > configuration.maxMessageSize else { return text }
        // Each reply fits alone but not all together: answer each with an error instead.
        let reason = "batch reply of \(text.utf8.count) bytes exceeds the message size limit of \(configuration.maxMessageSize) bytes"
        logger.error("batch reply too large", metadata: ["reason": .string(reason)])
        return JSONRPCEncoder.joinBatch(responses.map {
            JSONRPCEncoder.encode(JSONRPCResponse(id: $0.id, error: .internalError(reason)))
        })
    }
}
