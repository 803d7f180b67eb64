import RFSProtocol

/// How a `run` ended, decoded from its reply.
public enum RunResult: Sendable, Equatable {
    case ok
    case exit(code: Int32)
    case exception(type: String, message: String, traceback: String)
    case cancelled

    /// The process exit code `rfs run` uses for this result.
    public var exitCode: Int32 {
        switch self {
        case .ok: 0
        case .exit(let code): code
        case .exception: 1
        case .cancelled: 130
        }
    }

    init(reply: JSONValue) throws {
        guard case .object(let object) = reply, case .string(let status)? = object["status"] else {
            throw ClientError.unexpectedReply(method: "run", detail: reply.serialized())
        }
        switch status {
        case "ok":
            self = .ok
        case "exit":
            guard case .int(let code)? = object["code"] else {
                throw ClientError.unexpectedReply(method: "run", detail: reply.serialized())
            }
            self = .exit(code: Int32(truncatingIfNeeded: code))
        case "exception":
            guard case .object(let exception)? = object["exception"] else {
                throw ClientError.unexpectedReply(method: "run", detail: reply.serialized())
            }
            self = .exception(
                type: exception["type"]?.stringValue ?? "Exception",
                message: exception["message"]?.stringValue ?? "",
                traceback: exception["traceback"]?.stringValue ?? "")
        default:
            throw ClientError.unexpectedReply(method: "run", detail: reply.serialized())
        }
    }
}
