/// Which of a run's output streams a piece of text was written to.
public enum OutputStreamKind: String, Sendable, Codable {
    case stdout
    case stderr
}

/// How a script run ended.
public enum RunOutcome: Sendable, Equatable {
    /// The script ran to its end.
    case ok
    /// The script raised `SystemExit`; `code` is what CPython would exit with (None → 0, a non-int
    /// argument → 1 after printing it to stderr).
    case exit(code: Int32)
    /// An exception escaped the script (including `KeyboardInterrupt` after `interrupt()`).
    case exception(PythonException)
}

/// A Python exception, as the worker reports it to clients.
public struct PythonException: Error, Sendable, Equatable, Codable, CustomStringConvertible {
    /// The name the last traceback line shows: `ValueError`, or `pkg.mod.MyError` outside builtins.
    public var type: String
    /// `str(exception)`.
    public var message: String
    /// `traceback.format_exception(exception)` joined: CPython's format, with source lines.
    public var traceback: String

    public init(type: String, message: String, traceback: String) {
        self.type = type
        self.message = message
        self.traceback = traceback
    }

    public var description: String { message.isEmpty ? type : "\(type): \(message)" }
}

/// What went wrong while the worker itself used Python (as opposed to a script's own outcome,
/// which is a `RunOutcome`).
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
    /// Anything else → `RuntimeError(message)`.
    case failed(String)
}

/// The worker's execution context (DESIGN.md §3): which connection serves imports, and for which
/// top-level module names.
public struct ExecutionContext: Sendable, Equatable, Codable {
    public var connectionID: String?
    public var topLevelNames: [String]

    public init(connectionID: String?, topLevelNames: [String]) {
        self.connectionID = connectionID
        self.topLevelNames = topLevelNames
    }

    enum CodingKeys: String, CodingKey {
        case connectionID = "connection_id"
        case topLevelNames = "top_level_names"
    }
}
