import Synchronization

/// Decides when a requested interrupt may become a `KeyboardInterrupt`.
///
/// An interrupt belongs to one run (identified by its job token) and is only ever delivered while
/// that run's own code executes: a pending call that fires during the worker's bookkeeping, a
/// nested job, or after the run has ended does nothing. The request stays pending until it can
/// be delivered (at the next bytecode of the user's code, or to a bridge request the run is
/// blocked in) or until the run ends; a new run starts with no pending interrupt, so a late
/// interrupt never reaches the next run.
final class InterruptController: Sendable {
    private struct State {
        /// The job token of the run in progress; nil between runs.
        var runToken: UInt64?
        /// True only while the run's own code executes (PyEval_EvalCode of the script).
        var inUserCode = false
        /// An interrupt was requested for the run in progress and not delivered yet.
        var pending = false
        /// What the KeyboardInterrupt says (nil: nothing, as for Ctrl-C in a terminal).
        var message: String?
        /// Python is being finalised: no more pending calls may be scheduled.
        var closed = false
    }

    private let state = Mutex(State())

    func beginRun(token: UInt64) {
        state.withLock { $0 = State(runToken: token, closed: $0.closed) }
    }

    func endRun() {
        state.withLock { $0 = State(closed: $0.closed) }
    }

    /// Called before Python is finalised; later requests do nothing.
    func close() {
        state.withLock { $0 = State(closed: true) }
    }

    /// Marks the start of the script's own code. Returns true when an interrupt is already
    /// pending, so the caller schedules a check that fires at the script's first bytecode.
    func enterUserCode() -> Bool {
        state.withLock {
            $0.inUserCode = true
            return $0.pending
        }
    }

    func leaveUserCode() {
        state.withLock { $0.inUserCode = false }
    }

    /// Around a job the owner thread runs while the script is blocked in a bridge request: the
    /// job's Python code must not receive the script's KeyboardInterrupt.
    func suspendUserCode() -> Bool {
        state.withLock {
            let was = $0.inUserCode
            $0.inUserCode = false
            return was
        }
    }

    func resumeUserCode(_ was: Bool) {
        state.withLock { $0.inUserCode = was }
    }

    /// Records an interrupt for the run `token` (nil: whichever run is in progress) and, when
    /// there is such a run, calls `schedule` (which adds a pending call). `schedule` runs under
    /// the lock so that it cannot race with `close()` and reach a finalised interpreter.
    /// Returns whether a run was there to interrupt.
    @discardableResult
    func request(token: UInt64?, message: String? = nil, schedule: () -> Void) -> Bool {
        state.withLock {
            guard !$0.closed, let current = $0.runToken, token == nil || token == current else {
                return false
            }
            $0.pending = true
            $0.message = message
            schedule()
            return true
        }
    }

    /// What a SIGINT handler in the run host should do now (see `worker.install_host`).
    enum SignalVerdict: Equatable {
        /// Raise KeyboardInterrupt with this message (nil: none); the request is consumed.
        case deliver(String?)
        /// An interrupt is pending but the run's own code is not executing: ignore the signal;
        /// the request is delivered when user code resumes, or dropped when the run ends.
        case hold
        /// No interrupt was requested: the signal came from elsewhere (the script itself, say),
        /// and behaves as SIGINT does in plain Python.
        case notRequested
    }

    /// Consumes a deliverable interrupt for a SIGINT handler.
    func takeForSignal() -> SignalVerdict {
        state.withLock {
            guard $0.pending, $0.runToken != nil else { return .notRequested }
            guard $0.inUserCode else { return .hold }
            $0.pending = false
            return .deliver($0.message)
        }
    }

    /// True when an interrupt can be delivered now (pending, and the run's code is executing).
    var isDeliverable: Bool {
        state.withLock { $0.pending && $0.inUserCode && $0.runToken != nil }
    }

    /// Consumes a deliverable interrupt; true means the caller raises KeyboardInterrupt.
    func takeDeliverable() -> Bool {
        state.withLock {
            guard $0.pending, $0.inUserCode, $0.runToken != nil else { return false }
            $0.pending = false
            return true
        }
    }
}
