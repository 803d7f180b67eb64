import RFSProtocol

/// The protocol between the worker daemon and its run hosts (DESIGN.md §6).
///
/// A run host is `rfs host` (the same binary), started by the daemon with two inherited
/// socketpair ends and its stdout/stderr on pipes the daemon reads:
/// - **control** (fd 3): JSON-RPC both ways. The host's first message is `host/ready`; the daemon
///   sends `run` requests and `host/interrupt` / `host/connection_closed` notifications; the host
///   sends `output` notifications, already in the client-facing form (the daemon forwards them
///   verbatim, and stops reading while the client does not read, which stalls the writer);
/// - **fetch** (fd 4): the host's imports. One `host/fetch` request at a time from Python's
///   thread; the reply's result is the client's `fetch_module` reply message, verbatim, so it is
///   parsed once, by the finder that asked.
///
/// Every message on both channels is one frame: a 4-byte big-endian length, then UTF-8 JSON text
/// (``HostFrame``). Started without the cookie, `rfs host` refuses with one line (seed 004's
/// handshake: the cookie is not a secret, it tells a person the command is internal).
public enum HostProtocol {
    public static let version = 1
    public static let cookieVariable = "RFS_HOST_COOKIE"
    public static let cookieValue = "c2b7e1f04a9d4e38b6a5f3d1e8c09b72"
    public static let versionsVariable = "RFS_HOST_PROTOCOL_VERSIONS"
    /// The daemon's pid: a host whose parent is gone exits (it also gets SIGKILL on that death).
    public static let parentVariable = "RFS_HOST_PARENT_PID"
    public static let controlDescriptor: Int32 = 3
    public static let fetchDescriptor: Int32 = 4

    public enum Method {
        public static let ready = "host/ready"
        public static let run = "run"
        public static let interrupt = "host/interrupt"
        public static let connectionClosed = "host/connection_closed"
        public static let fetch = "host/fetch"
    }

    /// The environment a host is started with (added to the daemon's own).
    public static func environment(parentPID: Int32) -> [String: String] {
        [cookieVariable: cookieValue, versionsVariable: "\(version)", parentVariable: "\(parentPID)"]
    }

    /// Checks a host's environment; a one-line refusal, or nil when it may start.
    public static func refusal(environment: [String: String]) -> String? {
        guard environment[cookieVariable] == cookieValue else {
            return "rfs host is started by `rfs worker` for each run and not meant to be run by hand"
        }
        let offered = (environment[versionsVariable] ?? "").split(separator: ",").compactMap { Int($0) }
        guard offered.contains(version) else {
            return "rfs host: no common protocol version (worker offers \(environment[versionsVariable] ?? "none"), "
                + "host speaks \(version))"
        }
        return nil
    }
}

/// `host/ready` params, the host's first message: `{"protocol_version", "pid", "python",
/// "python_executable"}`.
public struct HostReady: Sendable, Equatable {
    public var protocolVersion: Int
    public var pid: Int32
    /// `sys.version`'s first word, e.g. `3.11.2`.
    public var python: String
    /// What `sys.executable` is in runs (a real interpreter of the same version), or nil.
    public var pythonExecutable: String?

    public init(protocolVersion: Int = HostProtocol.version, pid: Int32, python: String, pythonExecutable: String?) {
        self.protocolVersion = protocolVersion
        self.pid = pid
        self.python = python
        self.pythonExecutable = pythonExecutable
    }

    public init(json: JSONValue?) throws(JSONRPCError) {
        let reader = try WireReader(json, method: HostProtocol.Method.ready)
        protocolVersion = Int(clamping: try reader.int("protocol_version"))
        pid = Int32(clamping: try reader.int("pid"))
        python = try reader.string("python")
        pythonExecutable = try reader.optionalString("python_executable")
    }

    public var json: JSONValue {
        [
            "protocol_version": .int(Int64(protocolVersion)), "pid": .int(Int64(pid)), "python": .string(python),
            "python_executable": .optional(pythonExecutable),
        ]
    }
}

/// `run` params on the control channel: the client's run, with its context already decided by
/// the daemon, what the host does after the script, and the run's tree (its manifest, where to
/// materialize it, the node's store) when the client sent a manifest.
public struct HostRunParams: Sendable, Equatable {
    /// The client's run; its `tree` is not used here (see ``tree``).
    public var run: RunParams
    /// `run` isolation: after the script, wait for its non-daemon threads and run its `atexit`
    /// handlers, as `python job.py` does before it exits (the host is discarded afterwards).
    public var finishInterpreter: Bool
    public var tree: HostTree?

    public init(run: RunParams, finishInterpreter: Bool, tree: HostTree? = nil) {
        self.run = run
        self.run.tree = nil
        self.finishInterpreter = finishInterpreter
        self.tree = tree
    }

    public init(json: JSONValue?) throws(JSONRPCError) {
        guard case .object(var object)? = json else { throw .invalidParams("run: params must be an object") }
        let treeValue = object.removeValue(forKey: "tree")
        run = try RunParams(json: .object(object))
        finishInterpreter = try WireReader(json, method: HostProtocol.Method.run).bool("finish_interpreter", default: false)
        switch treeValue {
        case nil, .null?: tree = nil
        case let value?: tree = try HostTree(json: value)
        }
    }

    public var json: JSONValue {
        guard case .object(var object) = run.json else { return run.json }
        object["finish_interpreter"] = .bool(finishInterpreter)
        object["tree"] = tree?.json
        return .object(object)
    }
}

/// Why the daemon interrupts a run.
public enum InterruptReason: String, Sendable, Hashable {
    /// `$/cancelRequest`, Ctrl-C, or the client disconnected.
    case cancel
    /// The run went on longer than `--run-timeout`.
    case runTimeout = "run_timeout"
    /// The worker is shutting down.
    case shutdown
}

/// `host/interrupt` params: `{"reason", "message"}`. The run sees `KeyboardInterrupt(message)`
/// (no message for a plain cancel, as for Ctrl-C in a terminal).
public struct HostInterruptParams: Sendable, Equatable {
    public var reason: InterruptReason
    public var message: String?

    public init(reason: InterruptReason, message: String?) {
        self.reason = reason
        self.message = message
    }

    public init(json: JSONValue?) throws(JSONRPCError) {
        let reader = try WireReader(json, method: HostProtocol.Method.interrupt)
        guard let reason = InterruptReason(rawValue: try reader.string("reason")) else {
            throw reader.fail("reason", "one of cancel, run_timeout, shutdown")
        }
        self.reason = reason
        message = try reader.optionalString("message")
    }

    public var json: JSONValue { ["reason": .string(reason.rawValue), "message": .optional(message)] }
}

/// `host/connection_closed` params: `{"connection_id"}`: the host forgets that connection's finder.
public struct HostConnectionClosedParams: Sendable, Equatable {
    public var connectionID: String

    public init(connectionID: String) {
        self.connectionID = connectionID
    }

    public init(json: JSONValue?) throws(JSONRPCError) {
        connectionID = try WireReader(json, method: HostProtocol.Method.connectionClosed).string("connection_id")
    }

    public var json: JSONValue { ["connection_id": .string(connectionID)] }
}

/// `host/fetch` params: `{"connection_id", "method", "params", "timeout"?}`: a request Python's
/// finder makes of the client that serves `connection_id`. The daemon applies `--fetch-timeout`
/// (or `timeout` when it is shorter), so there is one deadline, kept in one place.
public struct HostFetchParams: Sendable, Equatable {
    public var connectionID: String
    public var method: String
    public var params: JSONValue
    public var timeout: Double?

    public init(json: JSONValue?) throws(JSONRPCError) {
        let reader = try WireReader(json, method: HostProtocol.Method.fetch)
        connectionID = try reader.string("connection_id")
        method = try reader.string("method")
        switch reader.object["params"] {
        case nil, .null?: params = .object([:])
        case .object(let object)?: params = .object(object)
        case .array(let items)?: params = .array(items)
        default: throw reader.fail("params", "an object or an array")
        }
        timeout = try reader.optionalNumber("timeout")
    }

    /// The whole request message. `paramsJSON` is JSON text Python produced (`json.dumps`),
    /// spliced in as is: the host never parses what it only passes on.
    public static func message(id: Int64, connectionID: String, method: String, paramsJSON: String, timeout: Double?) -> String {
        var text = "{\"jsonrpc\":\"2.0\",\"id\":\(id),\"method\":\"\(HostProtocol.Method.fetch)\",\"params\":{\"connection_id\":"
        text += JSONValue.string(connectionID).serialized()
        text += ",\"method\":" + JSONValue.string(method).serialized()
        text += ",\"params\":" + paramsJSON
        if let timeout, timeout.isFinite { text += ",\"timeout\":" + JSONValue.double(timeout).serialized() }
        text += "}}"
        return text
    }
}

/// Why a `host/fetch` got no reply from the client.
public enum HostFetchFailure: String, Sendable, Hashable {
    /// No reply within the deadline → `TimeoutError` in Python.
    case timeout
    /// The client is gone, or no session has that connection id → `ConnectionError`.
    case connectionLost = "connection_lost"
    /// The run may not fetch through that connection (not its context's) → `PermissionError`.
    case refused
    /// Anything else → `RuntimeError`.
    case failed

    /// The error code of a failed `host/fetch` reply.
    public static let errorCode = -32001
}

/// The daemon's reply to `host/fetch`.
///
/// Success is written as `{"jsonrpc":"2.0","id":N,"result":<the client's reply message>}` with
/// exactly that prefix, so the host finds the client's reply by reading the prefix, without
/// scanning the (possibly megabytes of) text that follows; failure is an ordinary error reply
/// with `data.reason` a ``HostFetchFailure``.
public enum HostFetchReply: Sendable, Equatable {
    /// The client's reply, verbatim (its result or its error: the finder decides).
    case reply(Substring)
    case failure(HostFetchFailure, message: String)

    public static func successPrefix(id: Int64) -> String {
        "{\"jsonrpc\":\"2.0\",\"id\":\(id),\"result\":"
    }

    /// The success frame's text around the client's reply text.
    public static func success(id: Int64, clientReply: String) -> String {
        successPrefix(id: id) + clientReply + "}"
    }

    public static func failure(id: Int64, _ reason: HostFetchFailure, message: String) -> String {
        JSONRPCEncoder.encode(
            JSONRPCResponse(
                id: .number(id),
                error: JSONRPCError(code: HostFetchFailure.errorCode, message: message, data: ["reason": .string(reason.rawValue)])))
    }

    /// Reads a reply frame for request `id`; nil when the frame answers another request (an
    /// abandoned one) or is not a reply at all.
    public static func parse(_ text: String, expecting id: Int64) -> HostFetchReply? {
        let prefix = successPrefix(id: id)
        if text.hasPrefix(prefix), text.hasSuffix("}") {
            return .reply(text.dropFirst(prefix.count).dropLast())
        }
        // Failures are small: parse them properly.
        guard case .single(.success(.response(let response))) = JSONRPCDecoder.decode(text),
            response.id == .number(id), let error = response.error
        else { return nil }
        let reason = error.data?["reason"]?.stringValue.flatMap(HostFetchFailure.init(rawValue:)) ?? .failed
        return .failure(reason, message: error.message)
    }

    /// The id a reply frame answers, for skipping abandoned replies.
    public static func id(of text: String) -> Int64? {
        let head = "{\"jsonrpc\":\"2.0\",\"id\":"
        if text.hasPrefix(head) {
            let digits = text.dropFirst(head.count).prefix { $0.isNumber || $0 == "-" }
            return Int64(digits)
        }
        guard case .single(.success(.response(let response))) = JSONRPCDecoder.decode(text),
            case .number(let id)? = response.id
        else { return nil }
        return id
    }
}

/// One frame of a host channel: a 4-byte big-endian length, then that many bytes of UTF-8 JSON.
public enum HostFrame {
    public static let headerSize = 4

    /// Frames may be a little larger than the largest client message: a `host/fetch` reply wraps
    /// the client's reply (at most the maximum message size) in a short envelope.
    public static func maxPayload(maxMessageSize: Int) -> Int {
        maxMessageSize + 4096
    }

    public static func header(length: Int) -> [UInt8] {
        let value = UInt32(length)
        return [UInt8(value >> 24), UInt8(value >> 16 & 0xFF), UInt8(value >> 8 & 0xFF), UInt8(value & 0xFF)]
    }

    public static func length(header bytes: some Collection<UInt8>) -> Int {
        bytes.prefix(4).reduce(0) { $0 << 8 | Int($1) }
    }
}

/// What a run's tree found in the node store, reported by the host beside its `run` result
/// (member `store_lookups` of the result object, `{"hits", "misses"}`): the store is filled by
/// the host's finder, so only the host knows, and the daemon counts them for `/metrics`. The
/// client never sees the member (the daemon answers from the parsed ``RunResult``).
public struct HostStoreLookups: Sendable, Equatable {
    public static let member = "store_lookups"
    /// Files an import needed whose blob the store already held.
    public var hits: Int
    /// Files an import needed that had to be asked of the client (`tree/read`).
    public var misses: Int

    public init(hits: Int, misses: Int) {
        self.hits = hits
        self.misses = misses
    }

    /// The lookups a host's `run` result carries; nil when it carries none (a run without a
    /// tree) or they are malformed (they only feed metrics, so they never fail a run).
    public init?(result: JSONValue) {
        guard case .object(let object) = result, case .object(let lookups)? = object[Self.member],
            case .int(let hits)? = lookups["hits"], case .int(let misses)? = lookups["misses"], hits >= 0, misses >= 0
        else { return nil }
        self.hits = Int(clamping: hits)
        self.misses = Int(clamping: misses)
    }

    public var json: JSONValue { ["hits": .int(Int64(hits)), "misses": .int(Int64(misses))] }
}
