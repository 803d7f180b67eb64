import RFSProtocol

/// The execution context (DESIGN.md §3): which connection serves imports, and for which
/// top-level module names. The wire's `context` member: `{"connection_id": str|null,
/// "top_level_names": [str]}`.
public struct ExecutionContext: Sendable, Hashable {
    public var connectionID: String?
    public var topLevelNames: [String]

    public init(connectionID: String?, topLevelNames: [String]) {
        self.connectionID = connectionID
        self.topLevelNames = topLevelNames
    }

    public static let empty = ExecutionContext(connectionID: nil, topLevelNames: [])

    public init(json: JSONValue, method: String = WireMethod.run) throws(JSONRPCError) {
        guard case .object = json else { throw .invalidParams("\(method): 'context' must be an object") }
        let reader = try WireReader(json, method: method)
        do {
            connectionID = try reader.optionalString("connection_id")
        } catch {
            throw .invalidParams("\(method): 'context.connection_id' must be a string or null")
        }
        let names: [String]?
        do {
            names = try reader.optionalStrings("top_level_names")
        } catch {
            throw .invalidParams("\(method): 'context.top_level_names' must be an array of strings")
        }
        guard names?.allSatisfy({ !$0.isEmpty }) ?? true else {
            throw .invalidParams("\(method): 'context.top_level_names' must hold non-empty strings")
        }
        let bytes = names?.reduce(0) { $0 + $1.utf8.count } ?? 0
        guard bytes <= Self.maxNameBytes else {
            throw .invalidParams(
                "\(method): 'context.top_level_names' holds \(bytes) bytes of names, over the limit of \(Self.maxNameBytes) (max_context_bytes)")
        }
        topLevelNames = names ?? []
    }

    /// The most bytes of top-level names one context may hold (4 MiB: a folder of tens of
    /// thousands of packages is far below it). The worker answers `request_plugin_info` with
    /// these names; bounding them bounds that reply, however often a peer asks for it.
    public static let maxNameBytes = 4 << 20

    public var json: JSONValue {
        ["connection_id": .optional(connectionID), "top_level_names": .strings(topLevelNames)]
    }
}

/// `run` params: `{"code": str, "filename"?: str, "argv"?: [str], "context"?: {...},
/// "tree"?: manifest}`.
public struct RunParams: Sendable, Equatable {
    public var code: String
    public var filename: String
    public var argv: [String]
    /// nil when the request carried no `context`: the session's own context applies.
    public var context: ExecutionContext?
    /// The snapshot of the client's folders the run imports from (DESIGN.md §7), when the worker
    /// offered the `tree` capability; nil: imports go through `fetch_module`.
    public var tree: TreeManifest?

    public static let defaultFilename = "<rfs-run>"

    public init(
        code: String, filename: String = RunParams.defaultFilename, argv: [String]? = nil, context: ExecutionContext? = nil,
        tree: TreeManifest? = nil
    ) {
        self.code = code
        self.filename = filename
        self.argv = argv ?? [filename]
        self.context = context
        self.tree = tree
    }

    public init(json: JSONValue?) throws(JSONRPCError) {
        guard case .object? = json else {
            throw .invalidParams("run: params must be an object with a 'code' string")
        }
        let reader = try WireReader(json, method: WireMethod.run)
        code = try reader.string("code")
        filename = try reader.optionalString("filename") ?? Self.defaultFilename
        argv = try reader.optionalStrings("argv") ?? [filename]
        switch reader.object["context"] {
        case nil, .null?: context = nil
        case let value?: context = try ExecutionContext(json: value)
        }
        switch reader.object["tree"] {
        case nil, .null?: tree = nil
        case let value?: tree = try TreeManifest(json: value)
        }
    }

    public var json: JSONValue {
        var object: [String: JSONValue] = [
            "code": .string(code), "filename": .string(filename), "argv": .strings(argv),
        ]
        if let context { object["context"] = context.json }
        if let tree { object["tree"] = tree.json }
        return .object(object)
    }
}

/// A Python exception as the worker reports it: `{"type","message","traceback"}`.
public struct PythonException: Error, Sendable, Hashable, CustomStringConvertible {
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

    public init(json: JSONValue) throws(JSONRPCError) {
        let reader = try WireReader(json, method: "run result exception")
        type = try reader.string("type")
        message = try reader.optionalString("message") ?? ""
        traceback = try reader.optionalString("traceback") ?? ""
    }

    public var json: JSONValue {
        ["type": .string(type), "message": .string(message), "traceback": .string(traceback)]
    }

    public var description: String { message.isEmpty ? type : "\(type): \(message)" }
}

/// How a run host that died ended (DESIGN.md §6): by a signal, or by exiting with a status
/// while the run was in progress (`os._exit(3)`).
public struct HostCrash: Sendable, Hashable {
    /// `"SIGSEGV"`, `"SIGKILL"`, …; nil when the host exited.
    public var signal: String?
    /// The status passed to `_exit`; nil when a signal ended the host.
    public var exitCode: Int32?
    /// Why the worker killed the host, when it did: `"run_timeout"`, `"run_memory"`,
    /// `"cancel_grace"`, `"shutdown"`.
    public var reason: String?
    /// One human sentence about it, for the client to show.
    public var message: String?

    public init(signal: String?, exitCode: Int32?, reason: String? = nil, message: String? = nil) {
        self.signal = signal
        self.exitCode = exitCode
        self.reason = reason
        self.message = message
    }

    /// The signal's number, when `signal` names one this machine knows.
    public var signalNumber: Int32? {
        signal.flatMap(SignalName.number(of:))
    }
}

/// How a script run ended: the `run` result of DESIGN.md §3 (and §6 for `crashed`).
public enum RunResult: Sendable, Hashable {
    /// `{"status":"ok"}`: the script ran to its end.
    case ok
    /// `{"status":"exit","code":n}`: the script raised SystemExit; `code` is the C `int` CPython
    /// passes to `exit()` (None → 0, an integer beyond a C long → -1, a non-integer → 1).
    case exit(code: Int32)
    /// `{"status":"exception","exception":{...}}`: an exception escaped the script.
    case exception(PythonException)
    /// `{"status":"crashed","signal":…,"exit_code":…}`: the run's host died.
    case crashed(HostCrash)

    public init(json: JSONValue) throws(JSONRPCError) {
        let reader = try WireReader(json, method: "run result")
        switch try reader.string("status") {
        case "ok":
            self = .ok
        case "exit":
            self = .exit(code: Int32(truncatingIfNeeded: try reader.int("code")))
        case "exception":
            guard let exception = reader.object["exception"] else { throw reader.fail("exception", "an object") }
            self = .exception(try PythonException(json: exception))
        case "crashed":
            self = .crashed(
                HostCrash(
                    signal: try reader.optionalString("signal"),
                    exitCode: try reader.optionalInt("exit_code").map { Int32(truncatingIfNeeded: $0) },
                    reason: try reader.optionalString("reason"),
                    message: try reader.optionalString("message")))
        case let other:
            throw .invalidParams("run result: unknown status '\(other)'")
        }
    }

    public var json: JSONValue {
        switch self {
        case .ok:
            return ["status": "ok"]
        case .exit(let code):
            return ["status": "exit", "code": .int(Int64(code))]
        case .exception(let exception):
            return ["status": "exception", "exception": exception.json]
        case .crashed(let crash):
            var object: [String: JSONValue] = [
                "status": "crashed", "signal": .optional(crash.signal),
                "exit_code": crash.exitCode.map { .int(Int64($0)) } ?? .null,
            ]
            if let reason = crash.reason { object["reason"] = .string(reason) }
            if let message = crash.message { object["message"] = .string(message) }
            return .object(object)
        }
    }
}
