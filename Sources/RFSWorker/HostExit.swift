import Foundation
import RFSWire
import Synchronization

/// How a run host process ended, as `waitpid` reports it.
struct HostExitStatus: Sendable, Hashable, CustomStringConvertible {
    /// Set when a signal ended the process.
    var signal: Int32?
    /// Set when the process exited.
    var exitCode: Int32?

    init(waitStatus status: Int32) {
        // WIFEXITED / WEXITSTATUS / WIFSIGNALED / WTERMSIG, which Swift cannot import (macros).
        let termination = status & 0x7F
        if termination == 0 {
            signal = nil
            exitCode = (status >> 8) & 0xFF
        } else {
            signal = termination
            exitCode = nil
        }
    }

    init(signal: Int32?, exitCode: Int32?) {
        self.signal = signal
        self.exitCode = exitCode
    }

    /// The `crashed` run result's fields.
    func crash(reason: String? = nil, message: String? = nil) -> HostCrash {
        HostCrash(signal: signal.map(SignalName.name(of:)), exitCode: exitCode, reason: reason, message: message)
    }

    var description: String {
        if let signal { return "killed by \(SignalName.name(of: signal))" }
        return "exited with status \(exitCode ?? -1)"
    }
}

/// Reaps one run host: a thread blocks in `waitpid` for it (a blocking wait must not sit on an
/// event loop or Swift's pool) and publishes the status to every awaiting task.
final class HostExitWatcher: Sendable {
    private struct State {
        var status: HostExitStatus?
        var nextWaiter: UInt64 = 0
        var waiters: [UInt64: CheckedContinuation<HostExitStatus?, Never>] = [:]
    }

    private let state = Mutex(State())

    init(pid: Int32) {
        let thread = Thread { [self] in
            Thread.current.name = "rfs-host-reaper"
            var raw: Int32 = 0
            var result: Int32
            repeat {
                result = waitpid(pid, &raw, 0)
            } while result < 0 && errno == EINTR
            let status = result == pid ? HostExitStatus(waitStatus: raw) : HostExitStatus(signal: nil, exitCode: -1)
            let waiters = self.state.withLock { state -> [CheckedContinuation<HostExitStatus?, Never>] in
                state.status = status
                defer { state.waiters.removeAll() }
                return Array(state.waiters.values)
            }
            for waiter in waiters { waiter.resume(returning: status) }
        }
        thread.stackSize = 64 << 10
        thread.start()
    }

    /// The status once the host has exited; nil while it runs.
    var status: HostExitStatus? {
        state.withLock { $0.status }
    }

    /// Waits until the host has exited, cancelled or not (the reaper always answers).
    func wait() async -> HostExitStatus {
        let status: HostExitStatus? = await withCheckedContinuation { continuation in
            let ready = state.withLock { state -> HostExitStatus? in
                if let status = state.status { return status }
                state.waiters[state.nextWaiter] = continuation
                state.nextWaiter += 1
                return nil
            }
            if let ready { continuation.resume(returning: ready) }
        }
        return status ?? HostExitStatus(signal: nil, exitCode: -1)
    }

    /// Waits at most `limit`; nil if the host is still running then.
    func wait(atMost limit: Duration) async -> HostExitStatus? {
        await withTaskGroup(of: HostExitStatus?.self) { group in
            group.addTask { await self.waitUnlessCancelled() }
            group.addTask {
                try? await Task.sleep(for: limit)
                return nil
            }
            let first = await group.next() ?? nil
            group.cancelAll()
            return first ?? status
        }
    }

    /// Waits until the host exits or the task is cancelled (then nil).
    private func waitUnlessCancelled() async -> HostExitStatus? {
        let id = state.withLock { state -> UInt64 in
            defer { state.nextWaiter += 1 }
            return state.nextWaiter
        }
        return await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<HostExitStatus?, Never>) in
                let immediate = state.withLock { state -> HostExitStatus?? in
                    if let status = state.status { return .some(status) }
                    if Task.isCancelled { return .some(nil) }
                    state.waiters[id] = continuation
                    return nil
                }
                if let immediate { continuation.resume(returning: immediate) }
            }
        } onCancel: {
            let waiter = state.withLock { $0.waiters.removeValue(forKey: id) }
            waiter?.resume(returning: nil)
        }
    }
}
