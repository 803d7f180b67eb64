/// Where the members of a JSON-RPC message are in its text: the byte ranges of the values of the
/// top-level members `jsonrpc`, `id`, `method`, `result` and `error`, found by a scan that
/// validates the whole text exactly as ``JSONValue/parse(_:)`` does but builds no values.
///
/// For code that forwards a message rather than reads it, such as the worker daemon passing a
/// client's `fetch_module` reply on to the run host that asked: megabytes of module source are
/// then read once, instead of being parsed into values only to be serialized again. The scan
/// accepts and refuses exactly the texts the parser does, with the same ``JSONParseError``.
///
/// Ranges are offsets into the text's UTF-8 bytes and cover a member's value as written, without
/// the whitespace around it: in `{"id": 7 ,"result":{}}`, `id` is `7..<8`.
public struct JSONRPCEnvelope: Sendable, Hashable {
    /// Whether the top-level value is an object (a single message). For a batch (an array) or
    /// any other value it is `false` and every range is `nil`.
    public var isObject: Bool
    public var jsonrpc: Range<Int>?
    public var id: Range<Int>?
    public var method: Range<Int>?
    public var result: Range<Int>?
    public var error: Range<Int>?
    /// Whether one of these five members occurs more than once. Its range then names the last
    /// occurrence, the value ``JSONValue/parse(_:)`` keeps (RFC 8259 §4 leaves duplicates to
    /// each receiver, so a forwarder may want to normalise such a message rather than pass on
    /// text that another reader could take differently).
    public var hasDuplicateMembers: Bool

    /// Validates `text` as JSON and locates its envelope members when it is an object.
    ///
    /// - Parameter maxDepth: the nesting limit, as for ``JSONValue/parse(_:maxDepth:)``.
    /// - Throws: the ``JSONParseError`` that ``JSONValue/parse(_:maxDepth:)`` would throw.
    public static func scan(
        _ text: String, maxDepth: Int = JSONValue.defaultMaxNestingDepth
    ) throws(JSONParseError) -> JSONRPCEnvelope {
        var text = text
        let outcome: Result<JSONScanner.Outcome, JSONParseError> = text.withUTF8 { bytes in
            Result { () throws(JSONParseError) -> JSONScanner.Outcome in
                try JSONScanner.scan(bytes, maxDepth: maxDepth, locating: Slot.names)
            }
        }
        let found = try outcome.get()
        return JSONRPCEnvelope(
            isObject: found.topLevelIsObject,
            jsonrpc: found.members[Slot.jsonrpc], id: found.members[Slot.id], method: found.members[Slot.method],
            result: found.members[Slot.result], error: found.members[Slot.error],
            hasDuplicateMembers: found.members.hasDuplicates)
    }

    /// The scanner's slots for the envelope members.
    enum Slot {
        static let names: [StaticString] = ["jsonrpc", "id", "method", "result", "error"]
        static let jsonrpc = 0, id = 1, method = 2, result = 3, error = 4
        static let errorNames: [StaticString] = ["code", "message"]
        static let code = 0, message = 1
    }
}

extension JSONRPCEnvelope {
    /// A single, valid response message, identified without parsing its result or error.
    struct Response: Sendable, Hashable {
        /// The request it answers.
        let id: JSONRPCID
        let isError: Bool
    }

    /// Classifies `text` as ``JSONRPCDecoder`` would, as far as a forwarder needs: a single
    /// response that the decoder accepts as valid, with an id that can name one of our
    /// requests. Only the small members (`jsonrpc`, `id`, the error's `code`) are parsed, from
    /// their slices of the text.
    ///
    /// `nil` for everything else, which then takes the ordinary path: calls (the scan stops at
    /// a top-level `method`, so a request costs a few bytes of scanning), batches, invalid JSON
    /// or JSON-RPC, error replies with id `null`, and responses whose envelope members repeat
    /// (those are normalised by a parse rather than forwarded ambiguous).
    static func response(in text: String, maxDepth: Int) -> Response? {
        var text = text
        return text.withUTF8 { bytes in response(in: bytes, maxDepth: maxDepth) }
    }

    private static func response(in bytes: UnsafeBufferPointer<UInt8>, maxDepth: Int) -> Response? {
        guard let first = bytes.firstIndex(where: { !isWhitespace($0) }), bytes[first] == ASCII.openBrace,
              let found = try? JSONScanner.scan(bytes, maxDepth: maxDepth, locating: Slot.names, stoppingAt: Slot.method),
              !found.stoppedEarly, !found.members.hasDuplicates,
              let version = found.members[Slot.jsonrpc], isVersion2(bytes, version),
              let idRange = found.members[Slot.id], let id = readID(bytes, idRange)
        else { return nil }
        switch (found.members[Slot.result], found.members[Slot.error]) {
        case (.some, nil):
            return Response(id: id, isError: false)
        case (nil, .some(let error)):
            guard isErrorObject(bytes, error, maxDepth: maxDepth) else { return nil }
            return Response(id: id, isError: true)
        default:
            return nil
        }
    }

    /// `"2.0"`, however escaped (an escaped form is at most six bytes per character).
    private static func isVersion2(_ bytes: UnsafeBufferPointer<UInt8>, _ range: Range<Int>) -> Bool {
        guard range.count <= 20, bytes[range.lowerBound] == ASCII.quote else { return false }
        return value(bytes, range) == .string("2.0")
    }

    /// A string or integral number id, as ``JSONRPCID/init(_:)`` reads it.
    private static func readID(_ bytes: UnsafeBufferPointer<UInt8>, _ range: Range<Int>) -> JSONRPCID? {
        switch bytes[range.lowerBound] {
        case ASCII.quote, ASCII.minus, ASCII.zero...ASCII.nine: return value(bytes, range).flatMap(JSONRPCID.init)
        default: return nil
        }
    }

    /// An object with an integer `code` and a string `message`, as ``JSONRPCError/init(_:)``
    /// requires, without parsing its `data` (which may be large).
    private static func isErrorObject(_ bytes: UnsafeBufferPointer<UInt8>, _ range: Range<Int>, maxDepth: Int) -> Bool {
        guard bytes[range.lowerBound] == ASCII.openBrace,
              let found = try? JSONScanner.scan(
                UnsafeBufferPointer(rebasing: bytes[range]), maxDepth: maxDepth, locating: Slot.errorNames),
              !found.members.hasDuplicates,
              let code = found.members[Slot.code], let message = found.members[Slot.message]
        else { return false }
        let base = range.lowerBound
        // An integer that fits Int64 has at most 20 characters; anything longer is a double.
        guard code.count <= 20, bytes[base + message.lowerBound] == ASCII.quote,
              case .int(let number)? = value(bytes, (base + code.lowerBound)..<(base + code.upperBound))
        else { return false }
        return Int(exactly: number) != nil
    }

    private static func value(_ bytes: UnsafeBufferPointer<UInt8>, _ range: Range<Int>) -> JSONValue? {
        try? JSONParser.parse(bytes: UnsafeBufferPointer(rebasing: bytes[range]), maxDepth: 1)
    }

    private static func isWhitespace(_ byte: UInt8) -> Bool {
        byte == ASCII.space || byte == ASCII.tab || byte == ASCII.newline || byte == ASCII.carriageReturn
    }
}
