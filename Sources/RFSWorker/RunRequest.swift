import RFSPython
import RFSProtocol

/// The params of a `run` request (DESIGN.md §3), validated.
struct RunRequest: Sendable {
    var code: String
    var filename: String
    var argv: [String]
    /// `nil` when the request carried no `context`: the session's own context applies.
    var context: ExecutionContext?

    init(params: JSONValue?) throws(JSONRPCError) {
        guard case .object(let object)? = params else {
            throw .invalidParams("run: params must be an object with a 'code' string")
        }
        guard case .string(let code)? = object["code"] else {
            throw .invalidParams("run: 'code' must be a string")
        }
        self.code = code
        switch object["filename"] {
        case nil, .null?: filename = "<rfs-run>"
        case .string(let name)?: filename = name
        default: throw .invalidParams("run: 'filename' must be a string")
        }
        switch object["argv"] {
        case nil, .null?:
            argv = [filename]
        case .array(let items)?:
            var values: [String] = []
            for item in items {
                guard case .string(let value) = item else {
                    throw .invalidParams("run: 'argv' must be an array of strings")
                }
                values.append(value)
            }
            argv = values
        default:
            throw .invalidParams("run: 'argv' must be an array of strings")
        }
        switch object["context"] {
        case nil, .null?: context = nil
        case let value?: context = try ExecutionContext(runParameter: value)
        }
    }
}

extension RunOutcome {
    /// The `run` result of DESIGN.md §3.
    var jsonValue: JSONValue {
        switch self {
        case .ok:
            return .object(["status": .string("ok")])
        case .exit(let code):
            return .object(["status": .string("exit"), "code": .int(Int64(code))])
        case .exception(let exception):
            return .object([
                "status": .string("exception"),
                "exception": .object([
                    "type": .string(exception.type),
                    "message": .string(exception.message),
                    "traceback": .string(exception.traceback),
                ]),
            ])
        }
    }
}
