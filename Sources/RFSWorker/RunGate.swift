import Synchronization

/// A first-in, first-out asynchronous lock: runs reach Python one at a time, in arrival order,
/// and a run whose request is cancelled while it waits simply leaves the queue.
///
/// State lives in a `Mutex` so `release()` is synchronous and can be called from `defer`.
final class RunGate: Sendable {
    private struct State {
        var busy = false
        var nextTicket: UInt64 = 0
        var waiters: [(ticket: UInt64, continuation: CheckedContinuation<Void, any Error>)] = []
    }

    private let state = Mutex(State())

    /// Waits for the gate; throws `CancellationError` if the task is cancelled while waiting.
    func acquire() async throws {
        let ticket = state.withLock { state -> UInt64 in
            state.nextTicket += 1
            return state.nextTicket
        }
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                let resumeNow: Bool? = state.withLock { state in
                    if Task.isCancelled { return nil }
                    if !state.busy {
                        state.busy = true
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

    /// Hands the gate to the next waiter, or marks it free.
    func release() {
        let next = state.withLock { state -> CheckedContinuation<Void, any Error>? in
            if state.waiters.isEmpty {
                state.busy = false
                return nil
            }
            return state.waiters.removeFirst().continuation
        }
        next?.resume()
    }

    /// Number of runs waiting behind the current one (for logs and tests).
    var queued: Int { state.withLock { $0.waiters.count } }
}
