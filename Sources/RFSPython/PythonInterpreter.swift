import CRFSPythonShim
import Foundation
import Logging
import RFSProtocol
import RFSWire
import Synchronization

/// The embedded CPython interpreter of a worker.
///
/// **Threading.** All Python work happens on one dedicated owner thread (see
/// `PythonOwnerThread`): it initialises CPython, so it is Python's main thread, and executes
/// jobs one at a time in FIFO order. Every method here enqueues a job and suspends the caller
/// until it is done; runs execute one at a time. The GIL is held only while a job runs and is
/// released while Python waits for Swift (`_rfs_bridge.request`).
///
/// **One per process.** CPython cannot be re-initialised reliably, so a second instance (even
/// after `shutdown()`) fails with `PythonError.alreadyStarted`.
///
/// **Python → Swift.** The builtin module `_rfs_bridge` forwards `request(...)` to
/// `requestHandler` and `write(...)` to the current run's `output` callback.
public final class PythonInterpreter: Sendable {
    /// Answers `_rfs_bridge.request(connection_id, method, params_json, timeout)`: returns the
    /// JSON text of the whole JSON-RPC response object. Throw `BridgeRequestError` to choose the
    /// Python exception (TimeoutError / ConnectionError / RuntimeError). `timeout` is what the
    /// Python caller passed (nil: none); the bridge also gives up by itself when it passes.
    public typealias RequestHandler = @Sendable (
        _ connectionID: String, _ method: String, _ paramsJSON: String, _ timeout: Double?
    ) async throws -> String

    /// Receives a run's output as it is written (complete lines, or the rest on flush and at the
    /// end). Called on a Python thread without the GIL.
    /// In a run host it may wait while the client is slow to read (it is called without the
    /// GIL), which is how output applies backpressure to the script.
    public typealias OutputHandler = @Sendable (OutputStreamKind, String) -> Void

    public let configuration: Configuration
    /// `sys.version` of the embedded interpreter.
    public let pythonVersion: String
    private let owner: PythonOwnerThread
    private let bridge: Bridge
    private let logger: Logger

    /// Starts CPython on a new owner thread and imports the worker's Python package.
    public init(configuration: Configuration = .init(), logger: Logger = Logger(label: "rfs.python")) async throws {
        let bridge = Bridge.shared
        let owner = PythonOwnerThread(interrupts: bridge.interrupts, logger: logger)
        guard bridge.claim(owner: owner, logger: logger) else {
            throw PythonError.alreadyStarted
        }
        self.configuration = configuration
        self.owner = owner
        self.bridge = bridge
        self.logger = logger
        let packageDirectory = try configuration.packageDirectory ?? Self.bundledPackageDirectory()
        self.pythonVersion = try await owner.start(
            PythonOwnerThread.StartOptions(
                isolated: !configuration.inheritEnvironment,
                writeBytecode: configuration.writeBytecode,
                importSite: configuration.importSite,
                installSignalHandlers: configuration.installSignalHandlers,
                home: configuration.pythonHome ?? Self.libraryPrefix,
                programName: configuration.programName,
                pycachePrefix: configuration.pycachePrefix,
                sysPathPrefix: [packageDirectory] + configuration.extraSysPath,
                stackSize: configuration.ownerThreadStackSize
            )
        )
        if configuration.installSignalHandlers, let thread = owner.numericThreadID {
            bridge.setDelivery(.signal(thread: thread))
        }
        logger.info("embedded Python started", metadata: ["version": "\(pythonVersion)"])
    }

    /// The prefix of the linked libpython (`/usr` for Debian's), so the interpreter uses its own
    /// standard library whatever `python3` comes first on PATH; nil: CPython searches.
    static let libraryPrefix: String? = {
        var buffer = [CChar](repeating: 0, count: 4096)
        guard rfs_python_library_prefix(&buffer, buffer.count) == 0 else { return nil }
        return buffer.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
    }()

    /// The run host's synchronous transport for `_rfs_bridge.request` (see ``BridgeTransport``);
    /// when set, ``requestHandler`` is not used. Set it before code that makes requests runs.
    public var transport: (any BridgeTransport)? {
        get { bridge.transport }
        set { bridge.transport = newValue }
    }

    /// The message of the KeyboardInterrupt that the next interrupt of the current run raises
    /// (nil: a bare KeyboardInterrupt, as Ctrl-C gives).
    public func setInterruptMessage(_ message: String?) {
        bridge.setInterruptMessage(message)
    }

    /// The handler for `_rfs_bridge.request`; set it once, before code that makes requests runs.
    /// Without one, requests raise RuntimeError.
    public var requestHandler: RequestHandler? {
        get { bridge.requestHandler }
        set { bridge.requestHandler = newValue }
    }

    // MARK: - Runs

    /// Runs `code` as a script: compiled with `filename`, in a fresh `__main__` namespace
    /// (`__name__ == "__main__"`, `__file__ == filename`), with `sys.argv = argv` and output
    /// streamed to `output`. When `context` is given, the execution context is set first, in
    /// the same job, so no other run can change it in between.
    ///
    /// Cancelling the calling task removes a run that has not started yet (throwing
    /// `CancellationError`) and interrupts one that has (its outcome is then KeyboardInterrupt).
    ///
    /// Runs never nest: a request handler must not await `run`, since that run would wait for
    /// the run that waits for the handler (until the request times out).
    public func run(
        code: String,
        filename: String,
        argv: [String],
        context: ExecutionContext? = nil,
        tree: String? = nil,
        finishInterpreter: Bool = false,
        output: @escaping OutputHandler
    ) async throws -> RunResult {
        let request = RunRequest(
            code: code, filename: filename, argv: argv, context: context, tree: tree, finishInterpreter: finishInterpreter,
            output: output)
        let bridge = self.bridge
        return try await submit(nestable: false) { gil, token in
            try gil.performRun(request, token: token, bridge: bridge)
        } onCancelWhileRunning: { token in
            bridge.interrupt(token: token)
        }
    }

    /// Raises KeyboardInterrupt in the run in progress, if any: at its next bytecode, or at once
    /// when it is blocked in a bridge request. Callable from any thread; never blocks. An
    /// interrupt never reaches a later run. (A script blocked in another system call, such as
    /// `time.sleep`, sees it when that call returns, unless the interpreter installed signal
    /// handlers, as a run host's does.) Returns whether a run was in progress to interrupt.
    @discardableResult
    public func interrupt() -> Bool {
        bridge.interrupt(token: nil)
    }

    // MARK: - Execution context and connections

    /// Sets the worker's execution context (`PluginObject.set_execution_context`): modules equal
    /// to or under any old or new top-level name are evicted from `sys.modules`.
    public func setExecutionContext(connectionID: String?, topLevelNames: [String]) async throws {
        let context = ExecutionContext(connectionID: connectionID, topLevelNames: topLevelNames)
        try await withGIL { gil in try gil.setExecutionContext(context) }
    }

    /// The current execution context.
    public func executionContext() async throws -> ExecutionContext {
        try await withGIL { gil in
            try gil.callWorkerJSON("execution_context", [], decode: { try ExecutionContext(json: $0) })
        }
    }

    /// The current context's top-level module names, sorted (`request_plugin_info`).
    public func topLevelNames() async throws -> [String] {
        try await withGIL { gil in
            try gil.callWorkerJSON("top_level_names", []) { json in
                guard let names = json.arrayValue?.compactMap(\.stringValue) else {
                    throw PythonError.unexpectedResult("top_level_names returned \(json)")
                }
                return names
            }
        }
    }

    /// Ensures a `RemoteMetaPathFinder` for connection `id` is first in `sys.meta_path`; its
    /// fetches time out after `configuration.fetchTimeout`. Idempotent.
    public func registerConnection(id: String) async throws {
        let timeout = configuration.fetchTimeout
        try await withGIL { gil in
            _ = try gil.callWorker("register_connection", [.string(id), timeout.map { .double($0) } ?? .none])
        }
    }

    /// What the active run tree found in the node store since the last call (each lookup is
    /// reported once), or nil when no tree is active.
    public func takeStoreLookups() async throws -> HostStoreLookups? {
        try await withGIL { gil in
            try gil.callWorkerJSON("take_store_lookups", []) { json -> HostStoreLookups? in
                if json == .null { return nil }
                guard let lookups = HostStoreLookups(result: [HostStoreLookups.member: json]) else {
                    throw PythonError.unexpectedResult("take_store_lookups returned \(json)")
                }
                return lookups
            }
        }
    }

    /// Removes the finder of connection `id` from `sys.meta_path`.
    public func unregisterConnection(id: String) async throws {
        try await withGIL { gil in _ = try gil.callWorker("unregister_connection", [.string(id)]) }
    }

    // MARK: - GIL

    /// Runs `body` on Python's owner thread with the GIL held and returns its result.
    ///
    /// The `PythonGIL` token cannot leave `body`; only `Sendable` values come out. Jobs run in
    /// FIFO order; while a run is blocked in a bridge request, the owner thread runs `withGIL`
    /// jobs in between, so a request handler may call this without deadlocking (such a job sees
    /// the run's `sys` state). While a run computes or blocks elsewhere (say in `time.sleep`),
    /// the job waits for it. Cancelling the caller before the job starts throws
    /// `CancellationError`; a started job runs to its end.
    public func withGIL<T: Sendable>(_ body: @Sendable (borrowing PythonGIL) throws -> T) async throws -> T {
        try await withoutActuallyEscaping(body) { body in
            // The job holds the closure only through this box and empties it before the caller
            // resumes, so the closure really does not outlive this call (checked at run time).
            let box = ClosureBox(body)
            return try await submit(nestable: true) { gil, _ in
                try box.take()(gil)
            } onCancelWhileRunning: { _ in
            } onAbandon: {
                box.clear()
            }
        }
    }

    /// Enqueues a job and waits for it. The job's closure is called at most once and never
    /// after this returns, which is what makes `withoutActuallyEscaping` above sound.
    private func submit<T: Sendable>(
        nestable: Bool,
        _ body: @escaping @Sendable (borrowing PythonGIL, UInt64) throws -> T,
        onCancelWhileRunning: @escaping @Sendable (UInt64) -> Void,
        onAbandon: @escaping @Sendable () -> Void = {}
    ) async throws -> T {
        let owner = self.owner
        let id = owner.makeJobID()
        let cancel: @Sendable () -> Void = {
            if !owner.cancelQueued(id, error: CancellationError()) {
                onCancelWhileRunning(id)
            }
        }
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, Error>) in
                let job = PythonOwnerThread.Job(
                    id: id,
                    nestable: nestable,
                    body: { gil in
                        let result: Result<T, Error>
                        do {
                            result = .success(try body(gil, id))
                        } catch {
                            result = .failure(error)
                        }
                        continuation.resume(with: result)
                    },
                    abandon: { error in
                        onAbandon()
                        continuation.resume(throwing: error)
                    }
                )
                guard owner.enqueue(job) else {
                    onAbandon()
                    continuation.resume(throwing: PythonError.shutDown)
                    return
                }
                // The cancellation handler may have run before the job was queued.
                if Task.isCancelled {
                    cancel()
                }
            }
        } onCancel: {
            cancel()
        }
    }

    // MARK: - Shutdown

    /// Interrupts the current run, abandons queued jobs (they throw `PythonError.shutDown`),
    /// finalises Python on its owner thread and ends that thread. Finalisation waits for
    /// non-daemon threads that scripts started, as CPython does at exit.
    public func shutdown() async {
        bridge.interrupt(token: nil)
        await owner.stop()
        logger.info("embedded Python shut down")
    }
}

/// Holds a closure for exactly one call and lets go of it before the call's result is
/// delivered (see `withGIL`).
private final class ClosureBox<T>: Sendable {
    typealias Body = @Sendable (borrowing PythonGIL) throws -> T
    private let body: Mutex<SendableBox<Body>?>

    init(_ body: @escaping Body) {
        self.body = Mutex(SendableBox(body))
    }

    /// Removes the closure from the box and returns it; the box keeps no reference.
    func take() -> Body {
        guard let box = body.withLock({ stored -> SendableBox<Body>? in
            defer { stored = nil }
            return stored
        }) else {
            preconditionFailure("a withGIL job ran twice")
        }
        return box.value
    }

    func clear() {
        body.withLock { $0 = nil }
    }
}

extension PythonInterpreter {
    /// Sets the interpreter up as a run host (`worker.install_host`): SIGINT raises
    /// KeyboardInterrupt in the run, `sys.executable` is a real interpreter of this version.
    /// Returns that interpreter's path, or nil when this machine has none.
    public func installHost() async throws -> String? {
        try await withGIL { gil in
            try gil.callWorkerJSON("install_host", []) { $0.stringValue }
        }
    }
}
