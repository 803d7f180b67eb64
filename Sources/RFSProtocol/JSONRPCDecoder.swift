/// Classifies inbound text the way JSON-RPC 2.0 §6–7 prescribe, without performing any call.
///
/// Keeping this a pure function of the text lets the spec's examples be tested on their own and
/// lets the peer do the (possibly megabyte-sized) parse off its actor.
public enum JSONRPCDecoder {
    /// Parses and classifies one inbound text message (a single message or a batch).
    public static func decode(_ text: String, maxDepth: Int = JSONValue.defaultMaxNestingDepth) -> JSONRPCInbound {
        let json: JSONValue
        do {
            json = try JSONParser.parse(text, maxDepth: maxDepth)
        } catch {
            return .unparseable(error)
        }
        return decode(json)
    }

    /// Classifies an already parsed message: an array is a batch (empty is its own case, as the
    /// spec answers it with a single error rather than an empty array); anything else is one
    /// message.
    public static func decode(_ json: JSONValue) -> JSONRPCInbound {
        guard case .array(let elements) = json else { return .single(decodeMessage(json)) }
        guard !elements.isEmpty else { return .emptyBatch }
        return .batch(elements.map(decodeMessage))
    }

    /// Validates one message against the spec. The shape is decided by its members: `method`
    /// makes it a call (a request with `id`, else a notification); otherwise `result` or `error`
    /// makes it a response; anything else is invalid.
    public static func decodeMessage(_ json: JSONValue) -> JSONRPCInboundItem {
        guard case .object(let members) = json else {
            return .failure(JSONRPCInvalidMessage(reason: "a message must be an object, got \(json.typeName)"))
        }
        if let method = members["method"] {
            return decodeCall(members, method: method)
        }
        if members["result"] != nil || members["error"] != nil {
            return decodeResponse(members)
        }
        return .failure(JSONRPCInvalidMessage(reason: "not a request or a response: no method, result or error member"))
    }

    private static func decodeCall(_ members: [String: JSONValue], method methodValue: JSONValue) -> JSONRPCInboundItem {
        // When the id is readable the error reply carries it, so the caller is not left waiting.
        let id = members["id"].flatMap(JSONRPCID.init)
        func invalid(_ reason: String) -> JSONRPCInboundItem {
            .failure(JSONRPCInvalidMessage(reason: reason, requestID: id))
        }
        if let reason = versionProblem(members["jsonrpc"]) { return invalid(reason) }
        guard case .string(let method) = methodValue else {
            return invalid("method must be a string, got \(methodValue.typeName)")
        }
        if members["result"] != nil || members["error"] != nil {
            return invalid("a request must not have a result or error member")
        }
        let params = members["params"]
        if let params {
            switch params {
            case .array, .object: break
            default: return invalid("params must be an object or an array, got \(params.typeName)")
            }
        }
        guard let idValue = members["id"] else {
            return .success(.notification(JSONRPCNotification(method: method, params: params)))
        }
        guard let id else { return invalid("id must be a string or an integer, got \(describeID(idValue))") }
        return .success(.request(JSONRPCRequest(id: id, method: method, params: params)))
    }

    private static func decodeResponse(_ members: [String: JSONValue]) -> JSONRPCInboundItem {
        // The id of a response names one of *our* requests, so it is reported separately and
        // never echoed back (it could collide with the other side's own request ids).
        let id = members["id"].flatMap(JSONRPCID.init)
        func invalid(_ reason: String) -> JSONRPCInboundItem {
            .failure(JSONRPCInvalidMessage(reason: reason, responseID: id))
        }
        if let reason = versionProblem(members["jsonrpc"]) { return invalid(reason) }
        guard let idValue = members["id"] else { return invalid("a response must have an id member") }
        switch (members["result"], members["error"]) {
        case (.some, .some):
            return invalid("a response must have exactly one of result and error")
        case (.some(let result), nil):
            guard let id else {
                return invalid("id of a result response must be a string or an integer, got \(describeID(idValue))")
            }
            return .success(.response(JSONRPCResponse(id: id, result: result)))
        case (nil, .some(let errorValue)):
            guard let error = JSONRPCError(errorValue) else {
                return invalid("error must be an object with an integer code and a string message")
            }
            if idValue.isNull { return .success(.response(JSONRPCResponse(id: nil, error: error))) }
            guard let id else {
                return invalid("id of an error response must be a string, an integer or null, got \(describeID(idValue))")
            }
            return .success(.response(JSONRPCResponse(id: id, error: error)))
        case (nil, nil):
            return invalid("a response must have a result or an error member")
        }
    }

    private static func versionProblem(_ version: JSONValue?) -> String? {
        guard let version else { return #"missing "jsonrpc": "2.0""# }
        guard version == .string("2.0") else {
            let shown = version.stringValue.map { "\"\($0.prefix(20))\"" } ?? version.typeName
            return #"jsonrpc must be "2.0", got "# + shown
        }
        return nil
    }

    private static func describeID(_ value: JSONValue) -> String {
        if case .double(let number) = value { return "non-integral number \(number)" }
        return value.typeName
    }
}

/// One element of an inbound message: a valid message, or why it is not one.
public typealias JSONRPCInboundItem = Result<JSONRPCMessage, JSONRPCInvalidMessage>

/// What an inbound text turned out to be.
public enum JSONRPCInbound: Sendable, Hashable {
    /// One message (valid or not).
    case single(JSONRPCInboundItem)
    /// A non-empty batch; its elements in order.
    case batch([JSONRPCInboundItem])
    /// Not JSON at all: owed a single `-32700` reply with id `null`.
    case unparseable(JSONParseError)
    /// `[]`: owed a single (not an array) `-32600` reply with id `null`.
    case emptyBatch
}

/// A message that is valid JSON but not a valid JSON-RPC message, with the reason.
public struct JSONRPCInvalidMessage: Error, Sendable, Hashable, CustomStringConvertible {
    /// What is wrong, for logs and (optionally) the error reply's `data`.
    public var reason: String
    /// The id of a call whose id could be read: its `-32600` reply goes to this id rather than
    /// `null`, so the caller learns of the problem instead of waiting for a timeout.
    public var requestID: JSONRPCID?
    /// The id named by a malformed *response*: the request of ours it was meant to answer.
    public var responseID: JSONRPCID?

    public init(reason: String, requestID: JSONRPCID? = nil, responseID: JSONRPCID? = nil) {
        self.reason = reason
        self.requestID = requestID
        self.responseID = responseID
    }

    /// The `-32600 Invalid Request` reply owed for this message.
    public func reply(includingDetail: Bool) -> JSONRPCResponse {
        JSONRPCResponse(id: requestID, error: .invalidRequest(includingDetail ? reason : nil))
    }

    public var description: String { "invalid JSON-RPC message: \(reason)" }
}
