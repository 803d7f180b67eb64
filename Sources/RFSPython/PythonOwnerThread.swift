import CRFSPythonShim
import CRFSSystem
import Foundation
import Logging

/// The one thread that owns CPython.
///
/// It initialises the interpreter (so it is Python's *main* thread: pending calls, and therefore
/// `interrupt()`, are delivered to it), then executes a FIFO queue of jobs, each with the GIL
/// held, and finally finalises the interpreter. Between jobs it holds no GIL, so Python threads
/// started by scripts keep running.
///
/// It is a plain `Thread`, not a task on the cooperative pool and not an event loop: Python code
/// may block for a long time (a script, a bridge request), which would starve those.
///
/// While a job is blocked in `_rfs_bridge.request` on this thread (GIL released), the thread
/// keeps serving *nestable* jobs from the queue (everything except runs). So a request handler
/// that itself needs Python (`withGIL`, `registerConnection`, ...) cannot deadlock against the
/// run that is waiting for it.
final class PythonOwnerThread: @unchecked Sendable {
    /// What to do with the GIL held. Exactly one of `body` or `abandon` is called.
    struct Job: Sendable {
        let id: UInt64
        /// False for runs: a run never starts inside another job.
        let nestable: Bool
        let body: @Sendable (borrowing PythonGIL) -> Void
        let abandon: @Sendable (any Error) -> Void
    }

    private enum Phase {
        case idle, starting, running, stopping, stopped
    }

    /// Guards the fields below and wakes the owner thread (new job, stop, a bridge call finished,
    /// an interrupt). Bridge calls made on the owner thread wait on it too.
    let condition = NSCondition()
    private var queue: [Job] = []
    private var phase = Phase.idle
    private var nextJobID: UInt64 = 1
    private var ownerThreadID: pthread_t?
    private var ownerThreadNumber: UInt?
    private var stopWaiters: [CheckedContinuation<Void, Never>] = []

    // Confined to the owner thread (no lock needed):
    /// Python's main thread state while the owner thread does not hold the GIL.
    private var mainThreadState: UnsafeMutablePointer<PyThreadState>?
    /// Owned reference to `remote_file_source.worker`, released just before finalisation.
    private var worker: UnsafeMutablePointer<PyObject>?

    private let interrupts: InterruptController
    private let kicker = EvalBreakerKicker()
    private let logger: Logger

    init(interrupts: InterruptController, logger: Logger) {
        self.interrupts = interrupts
        self.logger = logger
    }

    /// What the owner thread needs to bring Python up.
    struct StartOptions: Sendable {
        var isolated: Bool
        var writeBytecode: Bool
        var importSite: Bool
        var installSignalHandlers: Bool
        var home: String?
        var programName: String?
        var pycachePrefix: String?
        /// Put in front of `sys.path`, in this order (the package directory first).
        var sysPathPrefix: [String]
        var stackSize: Int
    }

    // MARK: - Life cycle

    /// Starts the thread, initialises Python on it and imports the worker module. Returns the
    /// interpreter's version string.
    func start(_ options: StartOptions) async throws -> String {
        try await withCheckedThrowingContinuation { (started: CheckedContinuation<String, Error>) in
            condition.lock()
            guard phase == .idle else {
                condition.unlock()
                started.resume(throwing: PythonError.alreadyStarted)
                return
            }
            phase = .starting
            condition.unlock()
            let thread = Thread { [self] in
                Thread.current.name = "rfs-python"
                self.threadMain(options, started: started)
            }
            thread.stackSize = options.stackSize
            thread.start()
        }
    }

    /// Abandons queued jobs, lets the current one finish (the caller interrupts it first), then
    /// finalises Python and ends the thread. Returns when the thread is done; idempotent.
    func stop() async {
        await withCheckedContinuation { (stopped: CheckedContinuation<Void, Never>) in
            condition.lock()
            switch phase {
            case .idle, .stopped:
                phase = .stopped
                condition.unlock()
                stopped.resume()
                return
            case .starting, .running, .stopping:
                phase = .stopping
                let abandoned = queue
                queue.removeAll()
                stopWaiters.append(stopped)
                condition.broadcast()
                condition.unlock()
                for job in abandoned {
                    job.abandon(PythonError.shutDown)
                }
            }
        }
    }

    private func threadMain(_ options: StartOptions, started: CheckedContinuation<String, Error>) {
        condition.lock()
        ownerThreadID = pthread_self()
        ownerThreadNumber = rfs_thread_self()
        condition.unlock()
        if options.installSignalHandlers {
            // In a run host this thread is Python's main thread, and the only one that takes
            // signals (the host's other threads block them): SIGINT interrupts the run, and
            // scripts' own handlers (SIGALRM, SIGTERM, ...) work. Threads Python starts, forked
            // children and subprocesses inherit this mask, so it must be empty whatever the
            // thread that started us had blocked (libdispatch's threads block nearly all).
            rfs_thread_unblock_all_signals()
        }

        let version: String
        do {
            version = try initializePython(options)
        } catch {
            finish()
            started.resume(throwing: error)
            return
        }
        // Py_InitializeFromConfig left this thread holding the GIL; give it up so Python threads
        // and PyGILState users elsewhere can run (DESIGN.md §5).
        mainThreadState = PyEval_SaveThread()
        kicker.start()
        condition.lock()
        if phase == .starting {
            phase = .running
        }
        condition.unlock()
        logger.debug("Python started on its owner thread", metadata: ["version": "\(version)"])
        started.resume(returning: version)

        serveQueue()

        interrupts.close()  // no pending call may reach the interpreter from now on
        kicker.stop()
        PyEval_RestoreThread(mainThreadState)
        rfs_py_xdecref(worker)  // owned since initializePython
        worker = nil
        if Py_FinalizeEx() != 0 {
            logger.warning("Py_FinalizeEx reported an error while flushing Python's buffers")
        }
        mainThreadState = nil
        logger.debug("Python finalised")
        finish()
    }

    /// Initialises CPython on this thread and imports the worker module; on success this thread
    /// holds the GIL.
    private func initializePython(_ options: StartOptions) throws -> String {
        var error = [CChar](repeating: 0, count: 1024)
        let status: Int32 = withOptionalCString(options.home) { home in
            withOptionalCString(options.programName) { programName in
                withOptionalCString(options.pycachePrefix) { pycachePrefix in
                    var cOptions = rfs_python_options(
                        isolated: options.isolated ? 1 : 0,
                        write_bytecode: options.writeBytecode ? 1 : 0,
                        site_import: options.importSite ? 1 : 0,
                        install_signal_handlers: options.installSignalHandlers ? 1 : 0,
                        home: home,
                        program_name: programName,
                        pycache_prefix: pycachePrefix
                    )
                    return rfs_python_initialize(&cOptions, &error, error.count)
                }
            }
        }
        guard status == 0 else {
            let message = error.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
            throw PythonError.initializationFailed(message)
        }
        let version = String(cString: Py_GetVersion())
        do {
            let gil = PythonGIL(worker: nil)
            try prependSysPath(options.sysPathPrefix, gil: gil)
            // PyImport_ImportModule: new reference, kept until finalisation.
            let module = try gil.owned(
                PyImport_ImportModule("remote_file_source.worker"),
                context: "import remote_file_source.worker"
            )
            worker = module.consume()
        } catch {
            _ = Py_FinalizeEx()
            throw PythonError.initializationFailed("\(error)")
        }
        return version
    }

    private func prependSysPath(_ entries: [String], gil: borrowing PythonGIL) throws {
        // PySys_GetObject: borrowed reference.
        guard let path = PySys_GetObject("path"), rfs_py_list_check(path) != 0 else {
            throw PythonError.initializationFailed("sys.path is missing or not a list")
        }
        for (index, entry) in entries.enumerated() {
            let item = try gil.makeString(entry)
            // PyList_Insert does not steal `item`.
            if PyList_Insert(path, index, item.pointer) != 0 {
                throw gil.takeError(context: "sys.path.insert(\(index), \(entry))")
            }
        }
    }

    private func finish() {
        condition.lock()
        phase = .stopped
        let waiters = stopWaiters
        stopWaiters.removeAll()
        let abandoned = queue
        queue.removeAll()
        condition.unlock()
        for job in abandoned {
            job.abandon(PythonError.shutDown)
        }
        for waiter in waiters {
            waiter.resume()
        }
    }

    // MARK: - Jobs

    /// A fresh job id (used to cancel or interrupt that job later).
    func makeJobID() -> UInt64 {
        condition.lock()
        defer { condition.unlock() }
        let id = nextJobID
        nextJobID += 1
        return id
    }

    /// Appends a job; false when the interpreter is shutting down (the job is not run).
    func enqueue(_ job: Job) -> Bool {
        condition.lock()
        defer { condition.unlock() }
        guard phase == .running || phase == .starting else { return false }
        queue.append(job)
        condition.broadcast()
        return true
    }

    /// Removes a job that has not started; it is abandoned with `error`. False if it already
    /// started (or finished).
    func cancelQueued(_ id: UInt64, error: any Error) -> Bool {
        condition.lock()
        guard let index = queue.firstIndex(where: { $0.id == id }) else {
            condition.unlock()
            return false
        }
        let job = queue.remove(at: index)
        condition.unlock()
        job.abandon(error)
        return true
    }

    /// After a pending call was added: wakes the owner thread if it waits in a bridge request,
    /// and makes it check pending calls if it runs Python code. Never blocks for long.
    func wake() {
        condition.lock()
        condition.broadcast()
        condition.unlock()
        kicker.kick()
    }

    /// The owner thread as a number for `pthread_kill`; nil before it started.
    var numericThreadID: UInt? {
        condition.lock()
        defer { condition.unlock() }
        return ownerThreadNumber
    }

    /// True on the owner thread.
    var isCurrentThread: Bool {
        condition.lock()
        defer { condition.unlock() }
        guard let ownerThreadID else { return false }
        return pthread_equal(ownerThreadID, pthread_self()) != 0
    }

    private func serveQueue() {
        while true {
            condition.lock()
            while queue.isEmpty && phase != .stopping {
                condition.wait()
            }
            if queue.isEmpty {
                condition.unlock()
                return
            }
            let job = queue.removeFirst()
            condition.unlock()

            PyEval_RestoreThread(mainThreadState)
            job.body(PythonGIL(worker: worker))
            mainThreadState = PyEval_SaveThread()
        }
    }

    /// How a wait on the owner thread ended.
    enum WaitResult {
        case done
        case timedOut
    }

    /// Waits on the owner thread, GIL released, until `isDone` (evaluated with `condition`
    /// locked) is true or `deadline` passes, running nestable jobs that arrive meanwhile.
    ///
    /// - Parameter threadState: the thread state the caller saved when releasing the GIL; nested
    ///   jobs re-acquire the GIL with it.
    func waitServingJobs(
        threadState: UnsafeMutablePointer<PyThreadState>?,
        deadline: Date?,
        isDone: () -> Bool
    ) -> WaitResult {
        condition.lock()
        defer { condition.unlock() }
        while true {
            if isDone() {
                return .done
            }
            if let index = queue.firstIndex(where: \.nestable) {
                let job = queue.remove(at: index)
                condition.unlock()
                let wasInUserCode = interrupts.suspendUserCode()
                PyEval_RestoreThread(threadState)
                job.body(PythonGIL(worker: worker))
                _ = PyEval_SaveThread()  // the same thread state as `threadState`
                interrupts.resumeUserCode(wasInUserCode)
                condition.lock()
                continue
            }
            if let deadline {
                if !condition.wait(until: deadline), !isDone() {
                    return .timedOut
                }
            } else {
                condition.wait()
            }
        }
    }
}

/// Calls `body` with a C string for `text`, or NULL when it is nil.
private func withOptionalCString<R>(_ text: String?, _ body: (UnsafePointer<CChar>?) -> R) -> R {
    guard let text else { return body(nil) }
    return text.withCString { body($0) }
}
