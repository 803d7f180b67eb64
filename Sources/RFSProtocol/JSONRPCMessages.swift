/// The three kinds of JSON-RPC 2.0 message. Each has exactly the members the spec allows, so a
/// value of these types is always a valid message; decoding (``JSONRPCDecoder``) is where
/// untrusted text is checked.

/// A call that expects a reply: the form incoming requests take when handed to a handler.
public struct JSONRPCRequest: Sendable, Hashable {
    public var id: JSONRPCID
    public var method: String
    /// An `.object` (named) or `.array` (positional), or `nil` when the member is absent.
    public var params: JSONValue?

    public init(id: JSONRPCID, method: String, params: JSONValue? = nil) {
        self.id = id
        self.method = method
        self.params = params
    }
}

/// A call without an `id`: the receiver never replies, not even with an error.
public struct JSONRPCNotification: Sendable, Hashable {
    public var method: String
    /// An `.object` (named) or `.array` (positional), or `nil` when the member is absent.
    public var params: JSONValue?

    public init(method: String, params: JSONValue? = nil) {
        self.method = method
        self.params = params
    }
}

/// A reply: exactly one of a result or an error, for the request with the same `id`.
///
/// `id` is `nil` (written `null`) only for an error reply to a message whose id could not be
/// read, such as a parse error.
public struct JSONRPCResponse: Sendable, Hashable {
    public var id: JSONRPCID?
    /// `.success(result)` or `.failure(error)`: "result XOR error" as a type.
    public var outcome: Result<JSONValue, JSONRPCError>

    public init(id: JSONRPCID, result: JSONValue) {
        self.id = id
        self.outcome = .success(result)
    }

    public init(id: JSONRPCID?, error: JSONRPCError) {
        self.id = id
        self.outcome = .failure(error)
    }

    /// The result of a successful reply.
    public var result: JSONValue? {
        if case .success(let value) = outcome { return value }
        return nil
    }

    /// The error of an error reply.
    public var error: JSONRPCError? {
        if case .failure(let error) = outcome { return error }
        return nil
    }
}

/// Any single JSON-RPC message.
public enum JSONRPCMessage: Sendable, Hashable {
    case request(JSONRPCRequest)
    case notification(JSONRPCNotification)
    case response(JSONRPCResponse)
}
