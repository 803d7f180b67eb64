import Synchronization

/// A first-in, first-out asynchronous semaphore: at most `capacity` holders at once, the others
/// served in arrival order; a waiter whose task is cancelled simply leaves the queue.
///
/// Used for `--max-runs` (runs executing at once) and, with capacity 1, for the runs of one
/// shared or session host (one at a time). State lives in a `Mutex` so `release()` is
/// synchronous and can be called from `defer`.
final class RunSlots: Sendable {
    private struct State {
        var capacity: Int
        var held = 0
        var nextTicket: UInt64 = 0
        var waiters: [(ticket: UInt64, continuation: CheckedContinuation<Void, any Error>)] = []
    }

    private let state: Mutex<State>

    init(capacity: Int) {
        state = Mutex(State(capacity: max(1, capacity)))
    }

    /// Waits for a slot; throws `CancellationError` if the task is cancelled while waiting.
    func acquire() async throws {
        let ticket = state.withLock { state -> UInt64 in
            state.nextTicket += 1
            return state.nextTicket
        }
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                let resumeNow: Bool? = state.withLock { state in
                    if Task.isCancelled { return nil }
                    if state.held < state.capacity && state.waiters.isEmpty {
                        state.held += 1
                        return true
                    }
                    state.waiters.append((ticket, continuation))
                    return false
                }
                switch resumeNow {
                case nil: continuation.resume(throwing: CancellationError())
                case true?: continuation.resume()
                case false?: break
                }
            }
        } onCancel: {
            let removed = state.withLock { state -> CheckedContinuation<Void, any Error>? in
                guard let index = state.waiters.firstIndex(where: { $0.ticket == ticket }) else { return nil }
                return state.waiters.remove(at: index).continuation
            }
            removed?.resume(throwing: CancellationError())
        }
    }

    /// Hands the slot to the next waiter, or frees it.
    func release() {
        let next = state.withLock { state -> CheckedContinuation<Void, any Error>? in
            if state.waiters.isEmpty {
                state.held -= 1
                return nil
            }
            return state.waiters.removeFirst().continuation
        }
        next?.resume()
    }

    /// Number of waiters (for logs and tests).
    var queued: Int { state.withLock { $0.waiters.count } }

    /// Number of holders.
    var inUse: Int { state.withLock { $0.held } }

    var capacity: Int { state.withLock { $0.capacity } }
}
