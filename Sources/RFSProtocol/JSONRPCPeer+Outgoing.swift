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
        var timeoutTask: Task<Void, Never>?
        var continuation: CheckedContinuation<JSONValue, any Error>?
        var outcome: Result<JSONValue, any Error>?
    }

    /// Calls `method` on the other side and returns its result.
    ///
    /// - Parameter timeout: overrides ``Configuration/defaultRequestTimeout``; `nil` uses it.
    /// - Throws: the ``JSONRPCError`` of an error reply; ``JSONRPCPeerError/timedOut(method:after:)``
    ///   (after which `$/cancelRequest` is sent); ``JSONRPCPeerError/closed(reason:)``;
    ///   ``JSONRPCPeerError/messageTooLarge(size:limit:)``; `CancellationError` when the calling
    ///   task is cancelled (after which `$/cancelRequest` is sent); or the `send` closure's error.
    public func request(_ method: String, params: JSONValue? = nil, timeout: Duration? = nil) async throws -> JSONValue {
        try ensureOpen()
        let id = makeRequestID()
        let text = try checkedSize(JSONRPCEncoder.encode(JSONRPCRequest(id: id, method: method, params: params)))
        register(id, method: method, timeout: timeout ?? configuration.defaultRequestTimeout)
        return try await withTaskCancellationHandler {
            try await transmitCall(text, answeredBy: [id])
            return try await outcome(of: id)
        } onCancel: {
            Task { await self.cancelOutgoing([id]) }
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
            register(request.id, method: request.method, timeout: effectiveTimeout)
        }
        let ids = requests.map(\.id)
        return try await withTaskCancellationHandler {
            try await transmitCall(text, answeredBy: ids)
            // Every id is awaited, even after a cancellation, so none is left in the table.
            var outcomes: [Result<JSONValue, any Error>] = []
            for id in ids {
                do {
                    outcomes.append(.success(try await outcome(of: id)))
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

    private func register(_ id: JSONRPCID, method: String, timeout: Duration?) {
        var entry = PendingRequest(method: method)
        if let timeout {
            entry.timeoutTask = Self.startTimer(for: id, method: method, after: timeout, peer: self)
        }
        pendingRequests[id] = entry
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
    private func outcome(of id: JSONRPCID) async throws -> JSONValue {
        try await withCheckedThrowingContinuation { continuation in
            guard var entry = pendingRequests[id] else {
                // Unreachable: only this function and `forget` remove entries.
                continuation.resume(throwing: JSONRPCPeerError.closed(reason: closeReason ?? "request \(id) was forgotten"))
                return
            }
            if let outcome = entry.outcome {
                pendingRequests[id] = nil
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
    func complete(_ id: JSONRPCID, with outcome: Result<JSONValue, any Error>) -> Bool {
        guard var entry = pendingRequests[id], entry.outcome == nil else { return false }
        entry.timeoutTask?.cancel()
        entry.timeoutTask = nil
        if let continuation = entry.continuation {
            pendingRequests[id] = nil
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

    private func forget(_ id: JSONRPCID) {
        pendingRequests.removeValue(forKey: id)?.timeoutTask?.cancel()
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
