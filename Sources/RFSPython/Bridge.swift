import CRFSPythonShim
import CRFSSystem
import Foundation
import Logging
import RFSWire
import Synchronization

/// How ``Bridge/interrupt(token:)`` makes the run raise KeyboardInterrupt.
enum InterruptDelivery: Sendable, Equatable {
    /// A pending call (Py_AddPendingCall) checked between bytecodes: for an interpreter that
    /// shares its process, where SIGINT belongs to the embedding program.
    case pendingCall
    /// SIGINT sent to Python's main thread, handled by the handler `worker.install_host`
    /// installs: for a run host, where it also ends `time.sleep`, lock waits and other blocking
    /// calls, exactly as Ctrl-C does for `python job.py`.
    case signal(thread: UInt)
}

/// The Swift side of the `_rfs_bridge` builtin module.
///
/// CPython is process-wide and C callbacks cannot capture context, so this state is a
/// process-wide singleton that the one `PythonInterpreter` fills in.
final class Bridge: Sendable {
    static let shared = Bridge()

    typealias OutputCallback = @Sendable (OutputStreamKind, String) -> Void

    let interrupts = InterruptController()
    // Closures stay boxed inside the mutexes; see `SendableBox`.
    private let handler = Mutex<SendableBox<PythonInterpreter.RequestHandler>?>(nil)
    private let output = Mutex<SendableBox<OutputCallback>?>(nil)
    private let owner = Mutex<PythonOwnerThread?>(nil)
    private let log = Mutex(Logger(label: "rfs.python.bridge"))
    private let directTransport = Mutex<(any BridgeTransport)?>(nil)
    /// How an interrupt reaches the run (fixed when the interpreter starts).
    private let delivery = Mutex(InterruptDelivery.pendingCall)
    /// The message of the next interrupt of the current run (see ``setInterruptMessage(_:)``).
    private let nextInterruptMessage = Mutex<String?>(nil)
    /// This process's pid when the bridge was claimed: a forked child (multiprocessing) inherits
    /// the bridge but not the threads and channels behind it, and must not use them.
    private let claimedPID = Atomic<Int32>(0)

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
            claimedPID.store(getpid(), ordering: .relaxed)
            rfs_bridge_set_callbacks(
                rfs_bridge_callbacks(
                    request: bridgeRequestEntry,
                    write: bridgeWriteEntry,
                    interrupt_check: bridgeInterruptCheckEntry,
                    take_interrupt: bridgeTakeInterruptEntry
                )
            )
        }
        return claimed
    }

    /// The run host's transport for `_rfs_bridge.request`; when set, the async
    /// ``requestHandler`` is not used.
    var transport: (any BridgeTransport)? {
        get { directTransport.withLock { $0 } }
        set { directTransport.withLock { $0 = newValue } }
    }

    func setDelivery(_ newValue: InterruptDelivery) {
        delivery.withLock { $0 = newValue }
    }

    /// The message the run's next KeyboardInterrupt carries ("run exceeded --run-timeout …").
    func setInterruptMessage(_ message: String?) {
        nextInterruptMessage.withLock { $0 = message }
    }

    /// True in a process forked from the one that started Python.
    var isForkedChild: Bool {
        let pid = claimedPID.load(ordering: .relaxed)
        return pid != 0 && pid != getpid()
    }

    var requestHandler: PythonInterpreter.RequestHandler? {
        get { handler.withLock { $0 }?.value }
        set { handler.withLock { $0 = newValue.map(SendableBox.init) } }
    }

    /// The current run's output callback (nil between runs: late writes are dropped).
    func setOutput(_ callback: OutputCallback?) {
        output.withLock { $0 = callback.map(SendableBox.init) }
    }

    // MARK: - _rfs_bridge.write

    fileprivate func write(stream: String, text: String) -> Int32 {
        guard let kind = OutputStreamKind(rawValue: stream) else {
            _ = rfs_err_set_string(rfs_exc_value_error(), "stream must be 'stdout' or 'stderr', not '\(stream)'")
            return -1
        }
        if isForkedChild {
            // The channel to the worker belongs to the parent; fd 1 and 2 reach the client too.
            Self.writeAll(kind == .stdout ? 1 : 2, text)
            return 0
        }
        guard let callback = output.withLock({ $0 })?.value else { return 0 }
        // The callback may wait while the client is slow to read (backpressure): without the GIL,
        // as CPython's own writes to a blocked pipe wait.
        let threadState = PyEval_SaveThread()
        callback(kind, text)
        PyEval_RestoreThread(threadState)
        // An interrupt that ended the wait early is raised here, from print().
        return PyErr_CheckSignals() != 0 ? -1 : 0
    }

    private static func writeAll(_ descriptor: Int32, _ text: String) {
        var text = text
        _ = text.withUTF8 { rfs_write_all(descriptor, $0.baseAddress, $0.count) }
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
        if isForkedChild {
            return rfs_err_set_string(
                rfs_exc_runtime_error(),
                "\(method) cannot reach the client from a process forked during a run (pid \(getpid())): "
                    + "import the client's modules in the parent before starting processes")
        }
        if let transport {
            return request(through: transport, connectionID: connectionID, method: method, paramsJSON: paramsJSON, timeout: timeout)
        }
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
            // New reference (or NULL with an exception); ownership passes to the caller, i.e.
            // CPython's call machinery returning it from `_rfs_bridge.request`.
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

    /// The run host's path: send and wait on this thread without the GIL; a wake-up runs
    /// Python's signal handlers (which raise KeyboardInterrupt for an interrupted run) and
    /// otherwise goes back to waiting, as CPython retries a system call after EINTR (PEP 475).
    private func request(
        through transport: any BridgeTransport, connectionID: String, method: String, paramsJSON: String, timeout: Double?
    ) -> UnsafeMutablePointer<PyObject>? {
        var threadState = PyEval_SaveThread()
        let ticket: UInt64
        switch transport.send(connectionID: connectionID, method: method, paramsJSON: paramsJSON, timeout: timeout) {
        case .success(let sent):
            ticket = sent
        case .failure(let error):
            PyEval_RestoreThread(threadState)
            return raise(error)
        }
        while true {
            let outcome = transport.wait(for: ticket)
            PyEval_RestoreThread(threadState)
            switch outcome {
            case .reply(var response):
                // New reference (or NULL with an exception) for the caller.
                return response.withUTF8 { buffer in
                    buffer.withMemoryRebound(to: CChar.self) { rfs_unicode_from_utf8($0.baseAddress, buffer.count) }
                }
            case .failure(let error):
                return raise(error)
            case .woken:
                if PyErr_CheckSignals() != 0 {
                    transport.abandon(ticket)
                    return nil  // KeyboardInterrupt (or whatever the handler raised) propagates
                }
                threadState = PyEval_SaveThread()
            }
        }
    }

    private func raise(_ error: BridgeRequestError) -> UnsafeMutablePointer<PyObject>? {
        switch error {
        case .timedOut(let message):
            return rfs_err_set_string(rfs_exc_timeout_error(), message)
        case .connectionLost(let message):
            return rfs_err_set_string(rfs_exc_connection_error(), message)
        case .refused(let message):
            return rfs_err_set_string(rfs_exc_permission_error(), message)
        case .failed(let message):
            return rfs_err_set_string(rfs_exc_runtime_error(), message)
        }
    }

    // MARK: - Interrupts

    /// Interrupts the run `token` (nil: the current run). Callable from any thread without the
    /// GIL; only takes short locks.
    @discardableResult
    func interrupt(token: UInt64?) -> Bool {
        let owner = owner.withLock { $0 }
        let message = nextInterruptMessage.withLock { $0 }
        let requested = interrupts.request(token: token, message: message) {
            scheduleInterruptCheck()
        }
        if requested {
            owner?.wake()  // a bridge request the run is blocked in gives up
            transport?.wake()
        }
        return requested
    }

    /// Makes the run look at its pending interrupt soon: a pending call that raises
    /// KeyboardInterrupt if the interrupt is deliverable when it runs (between two bytecodes on
    /// the main thread), or SIGINT to the main thread in a run host.
    func scheduleInterruptCheck() {
        switch delivery.withLock({ $0 }) {
        case .pendingCall:
            if rfs_schedule_interrupt_check() != 0 {
                log.withLock { $0 }.warning("CPython's pending-call queue is full; the interrupt waits for the next check")
            }
        case .signal(let thread):
            // Ends a blocking call of the main thread with EINTR; CPython then runs the handler.
            _ = rfs_thread_kill(thread, SIGINT)
        }
    }

    /// `_rfs_bridge.take_interrupt()`: what the run host's SIGINT handler should do.
    fileprivate func takeInterrupt() -> UnsafeMutablePointer<PyObject>? {
        switch interrupts.takeForSignal() {
        case .notRequested:
            return rfs_py_new_none()
        case .hold:
            return rfs_py_new_false()
        case .deliver(let message):
            var text = message ?? ""
            return text.withUTF8 { buffer in
                buffer.withMemoryRebound(to: CChar.self) { rfs_unicode_from_utf8($0.baseAddress, buffer.count) }
            }
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

private func bridgeTakeInterruptEntry() -> UnsafeMutablePointer<PyObject>? {
    Bridge.shared.takeInterrupt()
}
