import RFSWire

/// What went wrong while the worker itself used Python (as opposed to a script's own outcome,
/// which is a `RunResult`).
public enum PythonError: Error, Sendable, Equatable, CustomStringConvertible {
    /// Python raised while the worker was doing `context`.
    case exception(PythonException, context: String)
    /// CPython could not be started or the worker's Python package could not be loaded.
    case initializationFailed(String)
    /// CPython cannot be initialised twice in one process; a `PythonInterpreter` already exists.
    case alreadyStarted
    /// The interpreter has been (or is being) shut down.
    case shutDown
    /// Python returned something the worker did not expect.
    case unexpectedResult(String)

    public var description: String {
        switch self {
        case .exception(let exception, let context):
            return "\(context): \(exception)\n\(exception.traceback)"
        case .initializationFailed(let message):
            return "cannot start Python: \(message)"
        case .alreadyStarted:
            return "a PythonInterpreter already exists in this process (CPython cannot be re-initialised)"
        case .shutDown:
            return "the Python interpreter has been shut down"
        case .unexpectedResult(let message):
            return "unexpected result from Python: \(message)"
        }
    }
}

/// Thrown by a `PythonInterpreter.RequestHandler` to choose the exception Python sees from
/// `_rfs_bridge.request`. Any other error becomes `RuntimeError`.
public enum BridgeRequestError: Error, Sendable, Equatable {
    /// No answer in time → `TimeoutError(message)`.
    case timedOut(String)
    /// The connection is closed or unknown → `ConnectionError(message)`.
    case connectionLost(String)
    /// The run may not use that connection → `PermissionError(message)`.
    case refused(String)
    /// Anything else → `RuntimeError(message)`.
    case failed(String)
}

