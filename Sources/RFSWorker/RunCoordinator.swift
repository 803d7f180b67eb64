import Logging
import RFSPython

/// Owns the execution context and the order in which runs reach Python.
///
/// Runs execute one at a time (``RunGate``); each sets the context first, which evicts the
/// modules of the old and the new context from `sys.modules` (the reference plugin's rule), and
/// the context stays set after the run so `request_plugin_info` reports it.
actor RunCoordinator {
    private let interpreter: PythonInterpreter
    private let gate = RunGate()
    private let logger: Logger
    private(set) var context: ExecutionContext = .empty
    private var stopping = false

    init(interpreter: PythonInterpreter, logger: Logger) {
        self.interpreter = interpreter
        self.logger = logger
    }

    /// Runs `code` under `context` (or the current context when `nil`).
    /// Cancelling the calling task leaves the queue, or interrupts the run with KeyboardInterrupt.
    func run(
        code: String, filename: String, argv: [String], context newContext: ExecutionContext?,
        output: @escaping @Sendable (OutputStreamKind, String) -> Void
    ) async throws -> RunOutcome {
        try await gate.acquire()
        defer { gate.release() }
        try Task.checkCancellation()
        if stopping { throw WorkerError.shuttingDown }
        if let id = newContext?.connectionID {
            try await interpreter.registerConnection(id: id)
        }
        if let newContext { context = newContext }
        logger.debug("run starting", metadata: ["filename": "\(filename)", "queued": "\(gate.queued)"])
        // The interpreter sets the context in the same job as the run, and turns cancellation of
        // this task into KeyboardInterrupt (or into leaving its queue when not started yet).
        return try await interpreter.run(code: code, filename: filename, argv: argv, context: newContext, output: output)
    }

    /// Forgets a closed session's finder. Queued on Python's thread behind any running work.
    func connectionClosed(_ connectionID: String) async {
        do {
            try await interpreter.unregisterConnection(id: connectionID)
        } catch {
            logger.warning("could not unregister connection", metadata: ["connection_id": "\(connectionID)", "error": "\(error)"])
        }
    }

    /// Waits for the current run to end, interrupting it once `grace` has passed.
    /// Refuses runs that have not started yet; the current one may finish within `grace`.
    func drain(grace: Duration) async {
        stopping = true
        let interpreter = self.interpreter
        let gate = self.gate
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                try? await gate.acquire()
                gate.release()
            }
            group.addTask {
                try? await Task.sleep(for: grace)
                if !Task.isCancelled { interpreter.interrupt() }
            }
            await group.next()
            group.cancelAll()
        }
    }
}
