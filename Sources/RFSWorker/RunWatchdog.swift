import Foundation
import Logging
import RFSWire
import Synchronization

/// Enforces the end of one run on its host: interrupts (KeyboardInterrupt) on cancel, timeout
/// or shutdown, then kills the host when the run has not ended within the cancel grace; kills
/// it at once when it holds more memory than `--run-memory` (DESIGN.md §6: no script can hold
/// the worker).
///
/// Its timers are tasks; its state (why the host was killed, whether the run ended) is a `Mutex`.
final class RunWatchdog: Sendable {
    private struct State {
        var ended = false
        var interrupted: Set<InterruptReason> = []
        var killReason: (reason: String, message: String)?
        var timers: [Task<Void, Never>] = []
    }

    private let host: RunHost
    private let cancelGrace: Duration
    private let logger: Logger
    private let state = Mutex(State())

    init(host: RunHost, cancelGrace: Duration, runTimeout: Duration?, runMemory: Int64?, logger: Logger) {
        self.host = host
        self.cancelGrace = cancelGrace
        self.logger = logger
        if let runTimeout {
            let seconds = Self.describe(runTimeout)
            addTimer {
                try? await Task.sleep(for: runTimeout)
                guard !Task.isCancelled else { return }
                self.interrupt(.runTimeout, message: "the run exceeded the worker's run timeout (--run-timeout \(seconds) s)")
            }
        }
        if let runMemory {
            addTimer {
                while !Task.isCancelled {
                    if let resident = host.residentBytes, resident > runMemory {
                        self.kill(
                            reason: "run_memory",
                            message: "the run used \(resident >> 20) MiB, more than the worker's limit of \(runMemory >> 20) MiB (--run-memory)")
                        return
                    }
                    try? await Task.sleep(for: .milliseconds(50))
                }
            }
        }
    }

    /// Interrupts the run (once per reason) and kills its host if it has not ended after the
    /// cancel grace.
    func interrupt(_ reason: InterruptReason, message: String?) {
        let first = state.withLock { state -> Bool in
            guard !state.ended else { return false }
            return state.interrupted.insert(reason).inserted
        }
        guard first else { return }
        logger.info("interrupting run", metadata: ["reason": "\(reason.rawValue)", "host": "\(host.number)"])
        host.interrupt(reason, message: message)
        let grace = cancelGrace
        addTimer {
            try? await Task.sleep(for: grace)
            guard !Task.isCancelled else { return }
            let after = "did not stop within \(Self.describe(grace)) s of being interrupted (--cancel-grace); its process was killed"
            let message: String
            switch reason {
            case .cancel: message = "the run was cancelled and \(after)"
            case .runTimeout: message = "the run exceeded the worker's run timeout and \(after)"
            case .shutdown: message = "the worker is shutting down and the run \(after)"
            }
            self.kill(reason: reason == .runTimeout ? "run_timeout" : "cancel_grace", message: message)
        }
    }

    /// Why the host was killed, if this watchdog killed it.
    var killReason: (reason: String, message: String)? {
        state.withLock { $0.killReason }
    }

    /// The run ended: no more interrupts or kills.
    func stop() {
        let timers = state.withLock { state -> [Task<Void, Never>] in
            state.ended = true
            defer { state.timers.removeAll() }
            return state.timers
        }
        for timer in timers { timer.cancel() }
    }

    private func kill(reason: String, message: String) {
        let proceed = state.withLock { state -> Bool in
            guard !state.ended, state.killReason == nil else { return false }
            state.killReason = (reason, message)
            return true
        }
        guard proceed else { return }
        logger.warning("killing run host", metadata: ["host": "\(host.number)", "reason": "\(reason)", "detail": "\(message)"])
        host.kill()
    }

    private func addTimer(_ body: @escaping @Sendable () async -> Void) {
        let task = Task { await body() }
        let keep = state.withLock { state -> Bool in
            guard !state.ended else { return false }
            state.timers.append(task)
            return true
        }
        if !keep { task.cancel() }
    }

    static func describe(_ duration: Duration) -> String {
        let seconds = Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
        return seconds == seconds.rounded() ? String(Int(seconds)) : String(format: "%g", seconds)
    }
}
