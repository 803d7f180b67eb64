/// A JSON-RPC error object: what an error reply carries, and what a request that got one throws.
///
/// `message` is the short, stable category (the spec's own wording for the predefined codes);
/// the specific detail ("params must be an object or array, got string") goes in `data`, so
/// clients can match on `code`/`message` and still show the detail to a human.
public struct JSONRPCError: Error, Sendable, Hashable {
    public var code: Int
    public var message: String
    public var data: JSONValue?

    public init(code: Int, message: String, data: JSONValue? = nil) {
        self.code = code
        self.message = message
        self.data = data
    }

    // MARK: Codes (JSON-RPC 2.0 §5.1, plus the LSP code this protocol uses for cancellation)

    /// Invalid JSON was received.
    public static let parseError = -32700
    /// The JSON sent is not a valid Request object.
    public static let invalidRequest = -32600
    /// The method does not exist / is not available.
    public static let methodNotFound = -32601
    /// Invalid method parameter(s).
    public static let invalidParams = -32602
    /// Internal JSON-RPC error (a handler failed unexpectedly).
    public static let internalError = -32603
    /// The request was cancelled (`$/cancelRequest`, timeout, or shutdown); LSP's code.
    public static let requestCancelled = -32800

    // MARK: Factories with the spec's default messages

    /// `-32700 Parse error`; `detail` (if any) becomes `data`.
    public static func parseError(_ detail: String? = nil) -> JSONRPCError {
        JSONRPCError(code: parseError, message: "Parse error", detail: detail)
    }

    /// `-32600 Invalid Request`; `detail` (if any) becomes `data`.
    public static func invalidRequest(_ detail: String? = nil) -> JSONRPCError {
        JSONRPCError(code: invalidRequest, message: "Invalid Request", detail: detail)
    }

    /// `-32601 Method not found`; `data` names the method that was asked for.
    public static func methodNotFound(_ method: String) -> JSONRPCError {
        JSONRPCError(code: methodNotFound, message: "Method not found", data: .string(method))
    }

    /// `-32602 Invalid params`; `detail` (if any) becomes `data`.
    public static func invalidParams(_ detail: String? = nil) -> JSONRPCError {
        JSONRPCError(code: invalidParams, message: "Invalid params", detail: detail)
    }

    /// `-32603 Internal error`; `detail` (if any) becomes `data`.
    public static func internalError(_ detail: String? = nil) -> JSONRPCError {
        JSONRPCError(code: internalError, message: "Internal error", detail: detail)
    }

    /// `-32800 Request cancelled`; `detail` (if any) becomes `data`. (The parameter exists because
    /// a zero-argument function could not share its name with the `requestCancelled` code.)
    public static func requestCancelled(_ detail: String? = nil) -> JSONRPCError {
        JSONRPCError(code: requestCancelled, message: "Request cancelled", detail: detail)
    }

    private init(code: Int, message: String, detail: String?) {
        self.init(code: code, message: message, data: detail.map(JSONValue.string))
    }
}

extension JSONRPCError {
    /// The error object as it appears in a reply: `{"code":…,"message":…,"data"?:…}`.
    public var jsonValue: JSONValue {
        var members: [String: JSONValue] = ["code": .int(Int64(code)), "message": .string(message)]
        if let data { members["data"] = data }
        return .object(members)
    }

    /// Reads an error object; `nil` unless it is an object with an integer `code` and a string
    /// `message` (other members are ignored, as the spec allows extensions).
    public init?(_ json: JSONValue) {
        guard case .object(let members) = json,
              let codeValue = members["code"], case .int(let code) = codeValue,
              let message = members["message"]?.stringValue,
              let intCode = Int(exactly: code)
        else { return nil }
        self.init(code: intCode, message: message, data: members["data"])
    }
}

extension JSONRPCError: CustomStringConvertible {
    public var description: String {
        var text = "JSON-RPC error \(code): \(message)"
        if let data { text += " (\(data.stringValue ?? data.serialized()))" }
        return text
    }
}
