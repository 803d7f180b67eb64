import Synchronization

/// A number of bytes that tasks take before they hold that much memory and give back when they
/// no longer do, waiting in FIFO order when it is used up: how a session bounds what the other
/// side can make it hold.
///
/// Two users, one per layer:
/// - `WebSocketSession.send` takes a message's size before it copies the message into a buffer
///   for the channel, and gives it back once the channel has taken it, so the transport's copies
///   of a session's outbound messages stay under ``limit`` plus the channel's watermark however
///   many tasks send at once and however slow the peer is;
/// - ``JSONRPCPeer`` handlers reserve the size of the reply they are about to build
///   (``JSONRPCPeer/reserveReplyBytes(_:)``), held until the reply is handed to the transport.
///
/// A request larger than the limit is let through alone, when nothing else is held, so one
/// large message is slow rather than impossible.
///
/// Concurrency: a `Mutex` guards the state; ``acquire(_:)`` suspends, ``release(_:)`` may be
/// called from anywhere.
public final class ByteBudget: Sendable {
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
    public let limit: Int
    private let state: Mutex<State>

    public init(limit: Int) {
        self.limit = limit
        self.state = Mutex(State())
    }

    /// Bytes taken now.
    public var bytesInUse: Int { state.withLock { $0.inUse } }

    /// Senders waiting for room.
    public var waiting: Int { state.withLock { $0.waiters.count } }

    /// Takes `bytes`, waiting (in arrival order) until they fit.
    ///
    /// - Throws: `CancellationError` when the task is cancelled while waiting.
    public func acquire(_ bytes: Int) async throws {
        let id = state.withLock { state -> UInt64 in
            defer { state.nextID += 1 }
            return state.nextID
        }
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                let granted = state.withLock { state -> Bool in
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
            let removed = state.withLock { state -> Waiter? in
                guard let index = state.waiters.firstIndex(where: { $0.id == id }) else { return nil }
                return state.waiters.remove(at: index)
            }
            removed?.continuation.resume(throwing: CancellationError())
            // A cancelled first waiter may have been holding back the ones behind it.
            resumeAdmitted()
        }
    }

    /// Gives back `bytes` taken by ``acquire(_:)`` and lets waiting senders in.
    public func release(_ bytes: Int) {
        state.withLock { $0.inUse -= bytes }
        resumeAdmitted()
    }

    private func resumeAdmitted() {
        let admitted = state.withLock { state -> [Waiter] in
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
