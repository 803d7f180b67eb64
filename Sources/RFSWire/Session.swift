import RFSProtocol

/// `set_connection_id` params: `{"id": "<connection id>"}`. When `params.id` is absent the
/// request's own id is the connection id (what the reference's VS Code client sends).
public struct SetConnectionIDParams: Sendable, Equatable {
    public var id: String

    public init(id: String) {
        self.id = id
    }

    public init(request: JSONRPCRequest) throws(JSONRPCError) {
        if case .object(let object)? = request.params, let value = object["id"] {
            switch value {
            case .string(let text) where !text.isEmpty: id = text
            case .int(let number): id = String(number)
            default: throw .invalidParams("set_connection_id: 'id' must be a non-empty string")
            }
            return
        }
        switch request.id {
        case .string(let text): id = text
        case .number(let number): id = String(number)
        }
    }

    public var json: JSONValue { ["id": .string(id)] }
}

/// `request_plugin_info` result: `{"full_names": [...]}`, the current context's top-level names.
public struct PluginInfoResult: Sendable, Equatable {
    public var fullNames: [String]

    public init(fullNames: [String]) {
        self.fullNames = fullNames
    }

    public init(json: JSONValue) throws(JSONRPCError) {
        let reader = try WireReader(json, method: "request_plugin_info result")
        guard let names = try reader.optionalStrings("full_names") else {
            throw reader.fail("full_names", "an array of strings")
        }
        fullNames = names
    }

    public var json: JSONValue { ["full_names": .strings(fullNames)] }
}

/// `$/cancelRequest` params: `{"id": <id of the request>}`.
public struct CancelParams: Sendable, Equatable {
    public var id: JSONRPCID

    public init(id: JSONRPCID) {
        self.id = id
    }

    public var json: JSONValue { ["id": id.jsonValue] }
}

/// Which of a run's output streams a piece of text was written to.
public enum OutputStreamKind: String, Sendable, Hashable {
    case stdout
    case stderr
}

/// `output` notification params: `{"stream": "stdout"|"stderr", "text": str}`.
public struct OutputParams: Sendable, Equatable {
    public var stream: OutputStreamKind
    public var text: String

    public init(stream: OutputStreamKind, text: String) {
        self.stream = stream
        self.text = text
    }

    public init(json: JSONValue?) throws(JSONRPCError) {
        let reader = try WireReader(json, method: WireMethod.output)
        guard let stream = OutputStreamKind(rawValue: try reader.string("stream")) else {
            throw reader.fail("stream", "\"stdout\" or \"stderr\"")
        }
        self.stream = stream
        text = try reader.string("text")
    }

    public var json: JSONValue { ["stream": .string(stream.rawValue), "text": .string(text)] }

    /// How every message ``message`` writes starts, so a receiver can recognise one before
    /// deciding how to parse it.
    public static let messagePrefix = #"{"jsonrpc":"2.0","method":"output","#

    /// The whole notification message, ready to send.
    public var message: String {
        JSONRPCEncoder.encode(JSONRPCNotification(method: WireMethod.output, params: json))
    }

    /// The most UTF-8 bytes of text one `output` message may carry so that it stays within
    /// `maxMessageSize` whatever the text holds: JSON escapes a control character as `\u00XX`
    /// (6 bytes for 1), and the envelope adds under 100 bytes. Capped at 1 MiB so output streams
    /// in pieces a client can show as they come.
    public static func maxTextBytes(maxMessageSize: Int) -> Int {
        max(1, min(1 << 20, (maxMessageSize - 128) / 6))
    }

    /// Splits `text` into pieces of at most `maxBytes` UTF-8 bytes, never inside a character.
    public static func split(_ text: String, maxBytes: Int) -> [String] {
        let utf8 = text.utf8
        guard utf8.count > maxBytes else { return [text] }
        var pieces: [String] = []
        var start = utf8.startIndex
        while start != utf8.endIndex {
            var end = utf8.index(start, offsetBy: maxBytes, limitedBy: utf8.endIndex) ?? utf8.endIndex
            // Back up to the start of a scalar: continuation bytes are 0b10xxxxxx.
            while end != utf8.endIndex, end > start, utf8[end] & 0xC0 == 0x80 {
                end = utf8.index(before: end)
            }
            if end == start {  // maxBytes smaller than one scalar: take the whole scalar
                end = utf8.index(after: start)
                while end != utf8.endIndex, utf8[end] & 0xC0 == 0x80 { end = utf8.index(after: end) }
            }
            pieces.append(String(text[start..<end]))
            start = end
        }
        return pieces
    }
}
