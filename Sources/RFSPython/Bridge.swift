import CRFSPythonShim
import Foundation
import Logging
import Synchronization

/// The Swift side of the `_rfs_bridge` builtin module.
///
/// CPython is process-wide and C callbacks cannot capture context, so this state is a
/// process-wide singleton that the one `PythonInterpreter` fills in.
final class Bridge: Sendable {
    static let shared = Bridge()

    typealias OutputCallback = @Sendable (OutputStreamKind, String) -> Void

    let interrupts = InterruptController()
    private let handler = Mutex<PythonInterpreter.RequestHandler?>(nil)
    private let output = Mutex<OutputCallback?>(nil)
    private let owner = Mutex<PythonOwnerThread?>(nil)
    private let log = Mutex(Logger(label: "rfs.python.bridge"))

    private init() {}

    /// Claims the bridge for `owner`; false when an interpreter already exists in this process.
    func claim(owner newOwner: PythonOwnerThread, logger: Logger) -> Bool {
        let claimed = owner.withLock { current -> Bool in
            guard current == nil else { return false }
            current = newOwner
            return true
        }
        if claimed {
            log.withLock { $0 = logger }
            rfs_bridge_set_callbacks(
                rfs_bridge_callbacks(
                    request: bridgeRequestEntry,
                    write: bridgeWriteEntry,
                    interrupt_check: bridgeInterruptCheckEntry
                )
            )
        }
        return claimed
    }

    var requestHandler: PythonInterpreter.RequestHandler? {
        get { handler.withLock { $0 } }
        set { handler.withLock { $0 = newValue } }
    }

    /// The current run's output callback (nil between runs: late writes are dropped).
    func setOutput(_ callback: OutputCallback?) {
        output.withLock { $0 = callback }
    }

    // MARK: - _rfs_bridge.write

    fileprivate func write(stream: String, text: String) -> Int32 {
        guard let kind = OutputStreamKind(rawValue: stream) else {
            _ = rfs_err_set_string(rfs_exc_value_error(), "stream must be 'stdout' or 'stderr', not '\(stream)'")
            return -1
        }
        // Called with the GIL held: the callback must not block (it forwards to the session).
        output.withLock { $0 }?(kind, text)
        return 0
    }

    // MARK: - _rfs_bridge.request

    /// Runs the Swift handler for a request from Python and blocks the calling Python thread,
    /// GIL released, until it answers, the timeout passes, or (on the owner thread, during a
    /// run) the run is interrupted. Called with the GIL held; returns a new reference or NULL
    /// with an exception set.
    fileprivate func request(
        connectionID: String,
        method: String,
        paramsJSON: String,
        timeout: Double?
    ) -> UnsafeMutablePointer<PyObject>? {
        guard let handler = requestHandler, let owner = owner.withLock({ $0 }) else {
            return rfs_err_set_string(rfs_exc_runtime_error(), "no request handler is installed in the worker")
        }
        let onOwnerThread = owner.isCurrentThread
        let call = BridgeCall(condition: onOwnerThread ? owner.condition : NSCondition())
        let task = Task {
            do {
                call.finish(.success(try await handler(connectionID, method, paramsJSON, timeout)))
            } catch let error as BridgeRequestError {
                call.finish(.failure(error))
            } catch {
                call.finish(.failure(.failed("\(method) request to connection '\(connectionID)' failed: \(error)")))
            }
        }
        let deadline = timeout.map { Date(timeIntervalSinceNow: $0) }
        let interrupts = self.interrupts

        // Release the GIL for the wait (Py_BEGIN_ALLOW_THREADS).
        let threadState = PyEval_SaveThread()
        let outcome: BridgeCall.Outcome
        if onOwnerThread {
            let waited = owner.waitServingJobs(threadState: threadState, deadline: deadline) {
                call.isFinishedLocked || interrupts.isDeliverable
            }
            outcome = call.outcomeLocked(waited == .timedOut)
        } else {
            outcome = call.wait(until: deadline)
        }
        PyEval_RestoreThread(threadState)  // Py_END_ALLOW_THREADS

        switch outcome {
        case .finished(.success(let response)):
            var response = response
            return response.withUTF8 { buffer in
                buffer.withMemoryRebound(to: CChar.self) { rfs_unicode_from_utf8($0.baseAddress, buffer.count) }
            }
        case .finished(.failure(let error)):
            return raise(error)
        case .timedOut:
            task.cancel()
            let seconds = timeout.map { String(format: "%g", $0) } ?? "?"
            return raise(.timedOut("\(method) request to connection '\(connectionID)' got no answer within \(seconds) s"))
        case .pending:
            // Woken by an interrupt of the run this thread executes.
            task.cancel()
            if interrupts.takeDeliverable() {
                return rfs_err_set_none(rfs_exc_keyboard_interrupt())
            }
            // The interrupt was taken elsewhere in the meantime; report the abandoned request.
            return raise(.failed("\(method) request to connection '\(connectionID)' was abandoned"))
        }
    }

    private func raise(_ error: BridgeRequestError) -> UnsafeMutablePointer<PyObject>? {
        switch error {
        case .timedOut(let message):
            return rfs_err_set_string(rfs_exc_timeout_error(), message)
        case .connectionLost(let message):
            return rfs_err_set_string(rfs_exc_connection_error(), message)
        case .failed(let message):
            return rfs_err_set_string(rfs_exc_runtime_error(), message)
        }
    }

    // MARK: - Interrupts

    /// Interrupts the run `token` (nil: the current run). Callable from any thread without the
    /// GIL; only takes short locks.
    func interrupt(token: UInt64?) {
        let owner = owner.withLock { $0 }
        let requested = interrupts.request(token: token) {
            scheduleInterruptCheck()
        }
        if requested {
            owner?.wake()  // a bridge request the run is blocked in gives up
        }
    }

    /// Adds a pending call that raises KeyboardInterrupt if the interrupt is deliverable when it
    /// runs (between two bytecodes on the main thread).
    func scheduleInterruptCheck() {
        if rfs_schedule_interrupt_check() != 0 {
            log.withLock { $0 }.warning("CPython's pending-call queue is full; the interrupt waits for the next check")
        }
    }

    fileprivate func interruptCheck() -> Int32 {
        interrupts.takeDeliverable() ? 1 : 0
    }
}

/// One `_rfs_bridge.request` in flight: the handler task finishes it, the Python thread waits.
final class BridgeCall: @unchecked Sendable {
    enum Outcome {
        case finished(Result<String, BridgeRequestError>)
        case timedOut
        /// Neither finished nor timed out (the wait was ended by an interrupt).
        case pending
    }

    /// Guards `result`; the owner thread's condition for calls made on the owner thread, so the
    /// owner's wait wakes when the handler answers.
    private let condition: NSCondition
    private var result: Result<String, BridgeRequestError>?

    init(condition: NSCondition) {
        self.condition = condition
    }

    /// Records the answer (the first one wins) and wakes the waiter.
    func finish(_ result: Result<String, BridgeRequestError>) {
        condition.lock()
        if self.result == nil {
            self.result = result
            condition.broadcast()
        }
        condition.unlock()
    }

    /// For the owner thread's wait predicate; `condition` must be locked.
    var isFinishedLocked: Bool { result != nil }

    /// Reads the outcome after the owner thread's wait returned.
    func outcomeLocked(_ timedOut: Bool) -> Outcome {
        condition.lock()
        defer { condition.unlock() }
        if let result {
            return .finished(result)
        }
        return timedOut ? .timedOut : .pending
    }

    /// Waits on a thread other than the owner (a Python thread the script started).
    func wait(until deadline: Date?) -> Outcome {
        condition.lock()
        defer { condition.unlock() }
        while result == nil {
            if let deadline {
                if !condition.wait(until: deadline) && result == nil {
                    return .timedOut
                }
            } else {
                condition.wait()
            }
        }
        return .finished(result!)
    }
}

// MARK: - C entry points (called by the shim with the GIL held)

private func utf8String(_ bytes: UnsafePointer<CChar>?, _ count: Py_ssize_t) -> String {
    guard let bytes, count > 0 else { return "" }
    return bytes.withMemoryRebound(to: UInt8.self, capacity: count) {
        String(decoding: UnsafeBufferPointer(start: $0, count: count), as: UTF8.self)
    }
}

private func bridgeRequestEntry(
    _ connectionID: UnsafePointer<CChar>?, _ connectionIDLength: Py_ssize_t,
    _ method: UnsafePointer<CChar>?, _ methodLength: Py_ssize_t,
    _ paramsJSON: UnsafePointer<CChar>?, _ paramsJSONLength: Py_ssize_t,
    _ hasTimeout: Int32, _ timeout: Double
) -> UnsafeMutablePointer<PyObject>? {
    Bridge.shared.request(
        connectionID: utf8String(connectionID, connectionIDLength),
        method: utf8String(method, methodLength),
        paramsJSON: utf8String(paramsJSON, paramsJSONLength),
        timeout: hasTimeout != 0 ? timeout : nil
    )
}

private func bridgeWriteEntry(
    _ stream: UnsafePointer<CChar>?, _ streamLength: Py_ssize_t,
    _ text: UnsafePointer<CChar>?, _ textLength: Py_ssize_t
) -> Int32 {
    Bridge.shared.write(stream: utf8String(stream, streamLength), text: utf8String(text, textLength))
}

private func bridgeInterruptCheckEntry() -> Int32 {
    Bridge.shared.interruptCheck()
}
