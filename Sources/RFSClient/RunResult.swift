import RFSWire

/// How a `run` ended for the client: the worker's result, or cancelled (Ctrl-C).
public enum RunOutcome: Sendable, Equatable {
    case finished(RunResult)
    case cancelled

    /// The exit status `rfs run` uses: what `python job.py` would exit with (DESIGN.md §6).
    /// - a `sys.exit(n)` status as the OS keeps it (`n & 0xFF`: CPython hands `exit()` a C
    ///   int, -1 for integers beyond a C long, so `sys.exit(2**100)` and `sys.exit(-1)` give 255);
    /// - 1 for an uncaught exception;
    /// - for a host that died: its `os._exit` status, or 128+N for signal N;
    /// - 130 when cancelled, as for Ctrl-C.
    public var exitStatus: Int32 {
        switch self {
        case .cancelled:
            return 130
        case .finished(.ok):
            return 0
        case .finished(.exit(let code)):
            return code & 0xFF
        case .finished(.exception):
            return 1
        case .finished(.crashed(let crash)):
            if let number = crash.signalNumber { return 128 + number }
            return (crash.exitCode ?? 1) & 0xFF
        }
    }

    /// The one line `rfs run` prints on stderr about how the run ended, when the script itself
    /// did not say (a signal, a limit of the worker); nil otherwise.
    public var diagnostic: String? {
        guard case .finished(.crashed(let crash)) = self else { return nil }
        if let message = crash.message { return message }
        guard let signal = crash.signal else { return nil }  // os._exit(n): as quiet as Python
        let number = crash.signalNumber
        let description = number.map { " (\(SignalName.describe($0)))" } ?? ""
        return "the run's process was killed by \(signal)\(description)"
    }
}
