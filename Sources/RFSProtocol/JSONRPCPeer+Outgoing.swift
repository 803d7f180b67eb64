/// Calls from this peer to the other side: requests, notifications, batches, and the pending
/// table that matches replies to them.
///
/// A pending entry is created *before* the request is sent (a reply can arrive while `send` is
/// still returning) and is removed exactly once, by whoever awaits its outcome. An outcome that
/// arrives before anyone awaits it (reply, timeout, cancellation or close) is stored in the
/// entry until then.
extension JSONRPCPeer {
    struct PendingRequest {
        let method: String
        /// Whether the caller wants the reply's text (``requestVerbatim(_:params:timeout:)``)
        /// rather than its value; only such requests are completed with unparsed text.
        let isVerbatim: Bool
        var timeoutTask: Task<Void, Never>?
        var continuation: CheckedContinuation<ReceivedReply, any Error>?
        var outcome: Result<ReceivedReply, any Error>?
    }

    /// A reply as it reached a pending request. An error reply is a reply here, not a failure:
    /// ordinary requests throw it, verbatim requests hand it over.
    enum ReceivedReply: Sendable {
        /// Parsed and classified: every reply to an ordinary request, and a verbatim request's
        /// reply that came inside a batch or had to be normalised (duplicate members).
        case decoded(JSONRPCResponse)
        /// The whole message as received, never parsed: a verbatim request's single reply.
        case verbatim(JSONRPCVerbatimReply)
    }

    /// Calls `method` on the other side and returns its result.
    ///
    /// - Parameter timeout: overrides ``Configuration/defaultRequestTimeout``; `nil` uses it.
    /// - Throws: the ``JSONRPCError`` of an error reply; ``JSONRPCPeerError/timedOut(method:after:)``
    ///   (after which `$/cancelRequest` is sent); ``JSONRPCPeerError/closed(reason:)``;
    ///   ``JSONRPCPeerError/messageTooLarge(size:limit:)``; `CancellationError` when the calling
    ///   task is cancelled (after which `$/cancelRequest` is sent); or the `send` closure's error.
    public func request(_ method: String, params: JSONValue? = nil, timeout: Duration? = nil) async throws -> JSONValue {
        try Self.value(of: await call(method, params: params, timeout: timeout, verbatim: false), method: method)
    }

    /// Like ``request(_:params:timeout:)``, except that cancelling the calling task only sends
    /// `$/cancelRequest` and keeps waiting for the other side's reply (normally `-32800`, after
    /// the work it did on the way out). For a client that wants what a cancelled call still
    /// produced, such as the output a script prints while it handles KeyboardInterrupt. The
    /// reply also ends the wait when it is a result: the other side may finish first.
    public func requestAwaitingCancellation(_ method: String, params: JSONValue? = nil, timeout: Duration? = nil) async throws -> JSONValue {
        try Self.value(
            of: await call(method, params: params, timeout: timeout, verbatim: false, awaitReplyAfterCancel: true), method: method)
    }

    /// Calls `method` on the other side and returns its reply message exactly as it arrived,
    /// for a caller that forwards the reply rather than reads it (the worker daemon passing a
    /// client's `fetch_module` reply on to a run host). The reply is never parsed into values:
    /// it is only scanned, to check that it is valid and to find the request it answers.
    ///
    /// Timeouts, cancellation (`$/cancelRequest` is sent), closing and size checks are those of
    /// ``request(_:params:timeout:)``. An error reply is *not* thrown: it is returned with
    /// ``JSONRPCVerbatimReply/isError`` set, for the caller to pass on as it is. A reply that came
    /// inside a batch, or whose envelope members repeat, is handed over re-encoded (compact, in
    /// the spec's member order), since there is no text of its own to hand over.
    ///
    /// - Throws: ``JSONRPCPeerError/timedOut(method:after:)`` (after which `$/cancelRequest` is
    ///   sent); ``JSONRPCPeerError/closed(reason:)``; ``JSONRPCPeerError/messageTooLarge(size:limit:)``;
    ///   ``JSONRPCPeerError/malformedResponse(method:reason:)`` when the reply is not a valid
    ///   response; `CancellationError` when the calling task is cancelled (after which
    ///   `$/cancelRequest` is sent); or the `send` closure's error.
    public nonisolated func requestVerbatim(
        _ method: String, params: JSONValue? = nil, timeout: Duration? = nil
    ) async throws -> JSONRPCVerbatimReply {
        switch try await call(method, params: params, timeout: timeout, verbatim: true) {
        case .verbatim(let reply):
            return reply
        case .decoded(let response):
            // Serialized here, off the actor, like every other message of the peer.
            return JSONRPCVerbatimReply(text: JSONRPCEncoder.encode(response), isError: response.error != nil)
        }
    }

    /// Sends one request and waits for its reply: the common part of ``request(_:params:timeout:)``
    /// and ``requestVerbatim(_:params:timeout:)``.
    private func call(
        _ method: String, params: JSONValue?, timeout: Duration?, verbatim: Bool, awaitReplyAfterCancel: Bool = false
    ) async throws -> ReceivedReply {
        try ensureOpen()
        let id = makeRequestID()
        let text = try checkedSize(JSONRPCEncoder.encode(JSONRPCRequest(id: id, method: method, params: params)))
        register(id, method: method, verbatim: verbatim, timeout: timeout ?? configuration.defaultRequestTimeout)
        if awaitReplyAfterCancel {
            try await transmitCall(text, answeredBy: [id])
            return try await withTaskCancellationHandler {
                try await outcome(of: id)
            } onCancel: {
                Task { await self.sendCancelNotice(for: id) }
            }
        }
        return try await withTaskCancellationHandler {
            try await transmitCall(text, answeredBy: [id])
            return try await outcome(of: id)
        } onCancel: {
            Task { await self.cancelOutgoing([id]) }
        }
    }

    /// The result of an ordinary request's reply; an error reply is thrown as its ``JSONRPCError``.
    private nonisolated static func value(of reply: ReceivedReply, method: String) throws -> JSONValue {
        switch reply {
        case .decoded(let response):
            return try response.outcome.get()
        case .verbatim(let reply):
            // Only verbatim requests are completed with text; decoded anyway to stay total.
            guard case .single(.success(.response(let response))) = JSONRPCDecoder.decode(reply.text) else {
                throw JSONRPCPeerError.malformedResponse(method: method, reason: "the reply is not a valid response")
            }
            return try response.outcome.get()
        }
    }

    /// Sends a notification (no reply, no error from the other side).
    ///
    /// - Throws: ``JSONRPCPeerError/closed(reason:)``, ``JSONRPCPeerError/messageTooLarge(size:limit:)``
    ///   or the `send` closure's error.
    public func notify(_ method: String, params: JSONValue? = nil) async throws {
        try ensureOpen()
        let text = try checkedSize(JSONRPCEncoder.encode(JSONRPCNotification(method: method, params: params)))
        try await send(text)
    }

    /// Sends `calls` as one batch message and returns the outcome of each request, in the order
    /// of the requests in `calls` (notifications have none). An empty `calls` sends nothing.
    ///
    /// Each outcome is a result or that request's error (a ``JSONRPCError`` reply,
    /// ``JSONRPCPeerError/timedOut(method:after:)``, ``JSONRPCPeerError/closed(reason:)``).
    ///
    /// - Throws: before sending, ``JSONRPCPeerError/closed(reason:)``,
    ///   ``JSONRPCPeerError/messageTooLarge(size:limit:)`` or the `send` closure's error;
    ///   `CancellationError` when the calling task is cancelled (`$/cancelRequest` is sent for
    ///   every request still unanswered).
    public func batch(_ calls: [JSONRPCBatchCall], timeout: Duration? = nil) async throws -> [Result<JSONValue, any Error>] {
        try ensureOpen()
        guard !calls.isEmpty else { return [] }
        var messages: [JSONRPCMessage] = []
        var requests: [(id: JSONRPCID, method: String)] = []
        for call in calls {
            if call.expectsReply {
                let id = makeRequestID()
                requests.append((id, call.method))
                messages.append(.request(JSONRPCRequest(id: id, method: call.method, params: call.params)))
            } else {
                messages.append(.notification(JSONRPCNotification(method: call.method, params: call.params)))
            }
        }
        let text = try checkedSize(JSONRPCEncoder.encodeBatch(messages))
        let effectiveTimeout = timeout ?? configuration.defaultRequestTimeout
        for request in requests {
            register(request.id, method: request.method, verbatim: false, timeout: effectiveTimeout)
        }
        let ids = requests.map(\.id)
        return try await withTaskCancellationHandler {
            try await transmitCall(text, answeredBy: ids)
            // Every id is awaited, even after a cancellation, so none is left in the table.
            var outcomes: [Result<JSONValue, any Error>] = []
            for request in requests {
                do {
                    outcomes.append(.success(try Self.value(of: await outcome(of: request.id), method: request.method)))
                } catch {
                    outcomes.append(.failure(error))
                }
            }
            if outcomes.contains(where: { if case .failure(let error) = $0 { error is CancellationError } else { false } }) {
                throw CancellationError()
            }
            return outcomes
        } onCancel: {
            Task { await self.cancelOutgoing(ids) }
        }
    }

    // MARK: Pending table

    func makeRequestID() -> JSONRPCID {
        defer { nextRequestNumber += 1 }
        return .number(nextRequestNumber)
    }

    func checkedSize(_ text: String) throws -> String {
        let size = text.utf8.count
        guard size <= configuration.maxMessageSize else {
            throw JSONRPCPeerError.messageTooLarge(size: size, limit: configuration.maxMessageSize)
        }
        return text
    }

    private func register(_ id: JSONRPCID, method: String, verbatim: Bool, timeout: Duration?) {
        var entry = PendingRequest(method: method, isVerbatim: verbatim)
        if let timeout {
            entry.timeoutTask = Self.startTimer(for: id, method: method, after: timeout, peer: self)
        }
        pendingRequests[id] = entry
        // Counted before the request is sent, so before its reply can arrive. The count only
        // decides whether `receive` looks for verbatim replies: a stale read costs time (the
        // reply is parsed, then re-encoded for the caller), never correctness, so relaxed suffices.
        if verbatim { verbatimRequestsPending.wrappingAdd(1, ordering: .relaxed) }
    }

    /// Removes the entry of request `id`, keeping ``verbatimRequestsPending`` in step: the one
    /// way entries leave the table.
    @discardableResult
    private func removeEntry(_ id: JSONRPCID) -> PendingRequest? {
        guard let entry = pendingRequests.removeValue(forKey: id) else { return nil }
        if entry.isVerbatim { verbatimRequestsPending.wrappingSubtract(1, ordering: .relaxed) }
        return entry
    }

    /// Sends a call; if the caller is already cancelled or the send fails, its ids are
    /// forgotten again and the error is thrown (nothing will ever answer them).
    private func transmitCall(_ text: String, answeredBy ids: [JSONRPCID]) async throws {
        do {
            try Task.checkCancellation()
            try await send(text)
        } catch {
            for id in ids { forget(id) }
            throw error
        }
    }

    /// Waits for the outcome of a registered request and removes its entry.
    private func outcome(of id: JSONRPCID) async throws -> ReceivedReply {
        try await withCheckedThrowingContinuation { continuation in
            guard var entry = pendingRequests[id] else {
                // Unreachable: only this function and `forget` remove entries.
                continuation.resume(throwing: JSONRPCPeerError.closed(reason: closeReason ?? "request \(id) was forgotten"))
                return
            }
            if let outcome = entry.outcome {
                removeEntry(id)
                continuation.resume(with: outcome)
            } else {
                entry.continuation = continuation
                pendingRequests[id] = entry
            }
        }
    }

    /// Delivers the outcome of request `id`: resumes its waiter, or stores the outcome until
    /// it is awaited. Returns `false` when `id` is unknown or already has an outcome (a late
    /// reply after a timeout, a reply to a cancelled request).
    @discardableResult
    func complete(_ id: JSONRPCID, with outcome: Result<ReceivedReply, any Error>) -> Bool {
        guard var entry = pendingRequests[id], entry.outcome == nil else { return false }
        entry.timeoutTask?.cancel()
        entry.timeoutTask = nil
        if let continuation = entry.continuation {
            removeEntry(id)
            continuation.resume(with: outcome)
        } else {
            entry.outcome = outcome
            pendingRequests[id] = entry
        }
        return true
    }

    /// The method of pending request `id`, for error messages.
    func pendingMethod(_ id: JSONRPCID) -> String? {
        pendingRequests[id]?.method
    }

    /// Whether `id` names a pending verbatim request.
    func isPendingVerbatim(_ id: JSONRPCID) -> Bool {
        pendingRequests[id]?.isVerbatim == true
    }

    private func forget(_ id: JSONRPCID) {
        removeEntry(id)?.timeoutTask?.cancel()
    }

    // MARK: Timeouts and cancellation

    /// One sleeping task per request with a timeout, cancelled as soon as the request completes.
    /// Created from a nonisolated context so the task does not start on the actor.
    private nonisolated static func startTimer(
        for id: JSONRPCID, method: String, after timeout: Duration, peer: JSONRPCPeer
    ) -> Task<Void, Never> {
        Task { [weak peer] in
            do {
                try await Task.sleep(for: timeout)
            } catch {
                return  // completed in time
            }
            await peer?.expire(id, method: method, after: timeout)
        }
    }

    private func expire(_ id: JSONRPCID, method: String, after timeout: Duration) async {
        guard complete(id, with: .failure(JSONRPCPeerError.timedOut(method: method, after: timeout))) else { return }
        logger.warning("request timed out; cancelling it", metadata: [
            "rpc.method": .string(method), "rpc.id": .stringConvertible(id), "timeout": .stringConvertible(timeout),
        ])
        await sendCancelNotice(for: id)
    }

    /// The calling task was cancelled: fail the requests still unanswered with
    /// `CancellationError` and tell the other side to stop working on them.
    private func cancelOutgoing(_ ids: [JSONRPCID]) async {
        let cancelled = ids.filter { complete($0, with: .failure(CancellationError())) }
        for id in cancelled {
            await sendCancelNotice(for: id)
        }
    }

    private nonisolated func sendCancelNotice(for id: JSONRPCID) async {
        let notice = JSONRPCNotification(method: Self.cancelRequestMethod, params: ["id": id.jsonValue])
        do {
            try await sendEvenIfCancelled(JSONRPCEncoder.encode(notice))
        } catch {
            logger.debug("could not send \(Self.cancelRequestMethod)", metadata: [
                "rpc.id": .stringConvertible(id), "error": .string(String(describing: error)),
            ])
        }
    }
}

extension JSONRPCPeer {
    /// Sends `text` even from a cancelled task. A cancelled request must still tell the other
    /// side (`$/cancelRequest`), and a cancelled handler must still send its -32800 reply, but
    /// transports such as NIO's async writers refuse to write from a cancelled task. The send
    /// then runs in a fresh task, which does not inherit the cancellation.
    nonisolated func sendEvenIfCancelled(_ text: String) async throws {
        guard Task.isCancelled else {
            return try await send(text)
        }
        let send = self.send
        try await Task { try await send(text) }.value
    }
}

/// One element of an outgoing batch (see ``JSONRPCPeer/batch(_:timeout:)``).
public struct JSONRPCBatchCall: Sendable, Hashable {
    public var method: String
    public var params: JSONValue?
    /// `true` for a request (gets an id and a reply), `false` for a notification.
    public var expectsReply: Bool

    public init(method: String, params: JSONValue? = nil, expectsReply: Bool) {
        self.method = method
        self.params = params
        self.expectsReply = expectsReply
    }

    public static func request(_ method: String, params: JSONValue? = nil) -> JSONRPCBatchCall {
        JSONRPCBatchCall(method: method, params: params, expectsReply: true)
    }

    public static func notification(_ method: String, params: JSONValue? = nil) -> JSONRPCBatchCall {
        JSONRPCBatchCall(method: method, params: params, expectsReply: false)
    }
}
