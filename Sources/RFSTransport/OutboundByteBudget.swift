import NIOConcurrencyHelpers

/// Bytes a session's senders may have on their way to the connection at once (copied into a
/// buffer and waiting for the peer to read), in FIFO order.
///
/// `WebSocketSession.send` takes a message's size before it copies the message into a buffer
/// for the channel, and gives it back once the channel has taken the message (the channel
/// takes it only while it is writable, i.e. while fewer than its high watermark of bytes wait
/// for the socket). So the transport's own copies of a session's outbound messages stay under
/// ``limit`` plus the channel's watermark, however many tasks send at once and however slow the
/// peer is; a message larger than the limit is let through alone, when nothing else is queued.
///
/// Concurrency: a lock (`NIOLockedValueBox`) guards the state; ``acquire(_:)`` suspends,
/// ``release(_:)`` may be called from anywhere.
final class OutboundByteBudget: Sendable {
    private struct Waiter {
        let id: UInt64
        let bytes: Int
        let continuation: CheckedContinuation<Void, any Error>
    }

    private struct State {
        var inUse = 0
        var waiters: [Waiter] = []
        var nextID: UInt64 = 0

        /// Whether `bytes` fit now (alone, a message of any size fits).
        func admits(_ bytes: Int, limit: Int) -> Bool {
            inUse == 0 || inUse + bytes <= limit
        }
    }

    /// Most bytes taken at once (one larger message may be taken alone).
    let limit: Int
    private let state: NIOLockedValueBox<State>

    init(limit: Int) {
        self.limit = limit
        self.state = NIOLockedValueBox(State())
    }

    /// Bytes taken now.
    var bytesInUse: Int { state.withLockedValue { $0.inUse } }

    /// Senders waiting for room.
    var waiting: Int { state.withLockedValue { $0.waiters.count } }

    /// Takes `bytes`, waiting (in arrival order) until they fit.
    ///
    /// - Throws: `CancellationError` when the task is cancelled while waiting.
    func acquire(_ bytes: Int) async throws {
        let id = state.withLockedValue { state -> UInt64 in
            defer { state.nextID += 1 }
            return state.nextID
        }
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                let granted = state.withLockedValue { state -> Bool in
                    if state.waiters.isEmpty, state.admits(bytes, limit: limit) {
                        state.inUse += bytes
                        return true
                    }
                    state.waiters.append(Waiter(id: id, bytes: bytes, continuation: continuation))
                    return false
                }
                if granted { continuation.resume() }
            }
        } onCancel: {
            let removed = state.withLockedValue { state -> Waiter? in
                guard let index = state.waiters.firstIndex(where: { $0.id == id }) else { return nil }
                return state.waiters.remove(at: index)
            }
            removed?.continuation.resume(throwing: CancellationError())
            // A cancelled first waiter may have been holding back the ones behind it.
            resumeAdmitted()
        }
    }

    /// Gives back `bytes` taken by ``acquire(_:)`` and lets waiting senders in.
    func release(_ bytes: Int) {
        state.withLockedValue { $0.inUse -= bytes }
        resumeAdmitted()
    }

    private func resumeAdmitted() {
        let admitted = state.withLockedValue { state -> [Waiter] in
            var admitted: [Waiter] = []
            while let first = state.waiters.first, state.admits(first.bytes, limit: limit) {
                state.inUse += first.bytes
                admitted.append(state.waiters.removeFirst())
            }
            return admitted
        }
        for waiter in admitted { waiter.continuation.resume() }
    }
}
