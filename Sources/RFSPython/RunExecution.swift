import CRFSPythonShim

/// One script run, as the owner thread executes it.
struct RunRequest: Sendable {
    var code: String
    var filename: String
    var argv: [String]
    var context: ExecutionContext?
    var output: Bridge.OutputCallback
}

/// `worker.end_run`'s JSON: the wire protocol's run result.
private struct RunResultPayload: Decodable {
    var status: String
    var code: Int32?
    var exception: PythonException?
}

extension PythonGIL {
    /// Executes a run: context, fresh `__main__`, the script, classification, restoring `sys`.
    ///
    /// The script's code object is executed here with PyEval_EvalCode rather than by `exec` in
    /// `worker.py`, so the interrupt window is exactly the script's own code and tracebacks start
    /// at the script's `<module>` frame, as CPython's do.
    func performRun(_ request: RunRequest, token: UInt64, bridge: Bridge) throws -> RunOutcome {
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
            interrupts.leaveUserCode()
            if let result {
                rfs_py_decref(result)
            } else {
                exception = rfs_err_take_exception()  // new reference
            }
        }
        let payload = try callWorkerJSON(
            "end_run",
            [.object(run.pointer), exception.map { .object($0) } ?? .none],
            as: RunResultPayload.self
        )
        switch (payload.status, payload.code, payload.exception) {
        case ("ok", _, _):
            return .ok
        case ("exit", let code?, _):
            return .exit(code: code)
        case ("exception", _, let exception?):
            return .exception(exception)
        default:
            throw PythonError.unexpectedResult("worker.end_run returned status \(payload.status)")
        }
    }

    func setExecutionContext(_ context: ExecutionContext) throws {
        _ = try callWorker(
            "set_execution_context",
            [.optionalString(context.connectionID), .strings(context.topLevelNames)]
        )
    }
}
