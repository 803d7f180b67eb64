import Synchronization

/// The reply to one inbound batch, built as the batch's handlers finish and kept within the
/// maximum message size by construction.
///
/// Each slot (a request, or an invalid item that gets an error) settles once: its reply is
/// encoded (stopping early once it cannot fit, see ``JSONRPCEncoder/encode(_:limit:)``) and
/// its size added to the running total. A reply that would take the total past the limit, and
/// every slot settled after it, becomes a small `-32002` error naming the limit, and the
/// handlers still running are cancelled: their work can no longer be sent.
///
/// The invariant that makes this safe: `committed + reserved ≤ limit`, where `committed` is the
/// text settled so far (brackets and commas included) and `reserved` what the error reply of
/// every unsettled slot would take. An error can therefore always take a reply's place. A batch
/// whose error replies alone would not fit is refused before any handler starts (``init``
/// returns nil).
///
/// Memory: at most `limit` bytes of settled text, plus the reply being encoded.
///
/// Concurrency: the state is a `Mutex`; the batch's handler tasks settle slots from any thread,
/// and the one that settles the last slot is handed the whole text to send.
final class JSONRPCBatchReply: Sendable {
    private struct State {
        var texts: [String?]
        var errorSizes: [Int]
        var committed: Int
        var reserved: Int
        var unsettled: Int
        var overflowed = false
        var handlers: [Task<Void, Never>] = []
        /// Handlers ever tracked: the requests in flight that this batch's reply settles.
        var handlerCount = 0
    }

    /// The batch reply's limit (the maximum message size).
    let limit: Int
    private let ids: [JSONRPCID?]
    private let state: Mutex<State>

    /// - Parameter ids: the id of each slot's reply, in request order.
    init?(ids: [JSONRPCID?], limit: Int) {
        self.limit = limit
        self.ids = ids
        let errorSizes = ids.map { Self.overflowText(id: $0, limit: limit).utf8.count }
        // "[" + "]" and a comma between replies.
        let frame = 2 + max(0, ids.count - 1)
        let reserved = errorSizes.reduce(0, +)
        guard frame + reserved <= limit else { return nil }
        state = Mutex(State(
            texts: Array(repeating: nil, count: ids.count), errorSizes: errorSizes,
            committed: frame, reserved: reserved, unsettled: ids.count))
    }

    /// The error that replaces a reply that does not fit.
    static func overflowError(limit: Int) -> JSONRPCError {
        .limitExceeded("reply to the batch exceeds the limit of \(limit) bytes (max_message_size)")
    }

    private static func overflowText(id: JSONRPCID?, limit: Int) -> String {
        JSONRPCEncoder.encode(JSONRPCResponse(id: id, error: overflowError(limit: limit)))
    }

    /// Adds a running handler, cancelled if the batch overflows (at once if it already has).
    func track(_ handler: Task<Void, Never>) {
        let overflowed = state.withLock { state in
            state.handlerCount += 1
            if !state.overflowed { state.handlers.append(handler) }
            return state.overflowed
        }
        if overflowed { handler.cancel() }
    }

    /// What settling a slot produced.
    struct Settled {
        /// Whether this was the last slot: the batch is complete, its text (if any) to be sent.
        var complete: Bool
        /// The whole batch's text once complete; `nil` when no slot has a reply to send.
        var batchText: String?
        /// Handlers started for the batch, whose requests are in flight until it is sent.
        var handlerCount: Int
        /// Whether this slot's reply did not fit (it became the limit error).
        var overflowed: Bool
    }

    /// Settles slot `index` with `response`; `nil` means no reply will come for it (the peer is
    /// closing), which still counts towards completion.
    func settle(_ index: Int, with response: JSONRPCResponse?) -> Settled {
        // Encode outside the lock, bounded by what is left (checked again under the lock, since
        // other slots may settle meanwhile).
        let room = state.withLock { state in state.overflowed ? 0 : limit - state.committed - state.reserved + state.errorSizes[index] }
        let text = response.flatMap { room > 0 ? JSONRPCEncoder.encode($0, limit: room) : nil }
        var cancelled: [Task<Void, Never>] = []
        let settled = state.withLock { state -> Settled in
            precondition(state.texts[index] == nil, "batch slot \(index) settled twice")
            let errorSize = state.errorSizes[index]
            state.reserved -= errorSize
            var overflowed = false
            if response == nil {
                state.texts[index] = ""
            } else if !state.overflowed, let text, state.committed + text.utf8.count + state.reserved <= limit {
                state.committed += text.utf8.count
                state.texts[index] = text
            } else {
                overflowed = true
                if !state.overflowed {
                    state.overflowed = true
                    cancelled = state.handlers
                    state.handlers.removeAll()
                }
                state.committed += errorSize
                state.texts[index] = Self.overflowText(id: ids[index], limit: limit)
            }
            state.unsettled -= 1
            guard state.unsettled == 0 else {
                return Settled(complete: false, batchText: nil, handlerCount: state.handlerCount, overflowed: overflowed)
            }
            let parts = state.texts.compactMap { $0 }.filter { !$0.isEmpty }
            state.texts.removeAll()
            return Settled(
                complete: true, batchText: parts.isEmpty ? nil : JSONRPCEncoder.joinBatch(parts),
                handlerCount: state.handlerCount, overflowed: overflowed)
        }
        for handler in cancelled { handler.cancel() }
        return settled
    }
}
