import CRFSPythonShim
import RFSWire

/// One script run, as the owner thread executes it.
struct RunRequest: Sendable {
    var code: String
    var filename: String
    var argv: [String]
    var context: ExecutionContext?
    /// The run's tree (DESIGN.md §7) as JSON text (`{"dir","store","max_reply_bytes","manifest"}`),
    /// or nil: imports of the context's connection go through `fetch_module`.
    var tree: String?
    /// After the script: wait for its non-daemon threads and run `atexit` (run isolation).
    var finishInterpreter: Bool
    var output: Bridge.OutputCallback
}

extension PythonGIL {
    /// Executes a run: context, fresh `__main__`, the script, classification, restoring `sys`.
    ///
    /// The script's code object is executed here with PyEval_EvalCode rather than by `exec` in
    /// `worker.py`, so the interrupt window is exactly the script's own code and tracebacks start
    /// at the script's `<module>` frame, as CPython's do.
    func performRun(_ request: RunRequest, token: UInt64, bridge: Bridge) throws -> RunResult {
        let interrupts = bridge.interrupts
        interrupts.beginRun(token: token)
        bridge.setOutput(request.output)
        defer {
            bridge.setOutput(nil)
            interrupts.endRun()
        }
        if let context = request.context {
            try setExecutionContext(context)
        }
        if request.tree != nil || request.context?.connectionID != nil {
            _ = try callWorker(
                "set_run_tree", [.optionalString(request.context?.connectionID), .optionalString(request.tree)])
        }
        let run = try callWorker(
            "begin_run",
            [.string(request.code), .string(request.filename), .strings(request.argv)]
        )
        // Owned reference to the exception the script (or its compilation) raised, if any.
        var exception: UnsafeMutablePointer<PyObject>?
        defer { rfs_py_xdecref(exception) }

        let code = try attribute(run.pointer, "code")
        if code.isNone {
            exception = try attribute(run.pointer, "error").consume()
        } else {
            let globals = try attribute(run.pointer, "globals")
            if interrupts.enterUserCode() {
                // Interrupted before the script started: deliver at its first bytecode.
                bridge.scheduleInterruptCheck()
            }
            // PyEval_EvalCode: code and dicts borrowed; new reference or NULL with an exception.
            let result = PyEval_EvalCode(code.pointer, globals.pointer, globals.pointer)
            if let result {
                rfs_py_decref(result)
            } else {
                exception = rfs_err_take_exception()  // new reference
            }
            if request.finishInterpreter {
                // Still the script's time (an interrupt lands here too): `python job.py` waits
                // for non-daemon threads and runs atexit handlers before it exits.
                if let finished = try? rawCallWorker("finish_interpreter", []) {
                    rfs_py_decref(finished)
                } else if let late = rfs_err_take_exception() {
                    // Only an exception out of the thread join (KeyboardInterrupt) gets here;
                    // atexit errors are printed by atexit itself. The script's own outcome wins.
                    if exception == nil { exception = late } else { rfs_py_decref(late) }
                }
            }
            interrupts.leaveUserCode()
        }
        return try callWorkerJSON(
            "end_run", [.object(run.pointer), exception.map { .object($0) } ?? .none], decode: RunResult.init(json:))
    }

    func setExecutionContext(_ context: ExecutionContext) throws {
        _ = try callWorker(
            "set_execution_context",
            [.optionalString(context.connectionID), .strings(context.topLevelNames)]
        )
    }
}
