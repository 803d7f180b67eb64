/// Checks that a text is valid JSON by exactly the rules of ``JSONParser`` (it reads the text with
/// the same ``JSONLexer``: the same grammar, the same nesting limit, the same error at the same
/// offset) without building any value, and locates the values of chosen members of the top-level
/// object.
///
/// It exists for messages that are forwarded rather than read: the worker daemon hands a
/// client's `fetch_module` reply (up to megabytes of module source) to the run host that asked,
/// and only needs to know that the text is sound and which request it answers. Parsing it into a
/// `JSONValue` would allocate a string for every member and copy every source once more, only
/// for the text to be serialized again.
struct JSONScanner {
    /// What a scan found (the text is valid unless the scan stopped early).
    struct Outcome {
        /// Whether the top-level value is an object; members are only located in that object.
        var topLevelIsObject = false
        var members = MemberRanges()
        /// The scan ended at the stop member (see ``scan(_:maxDepth:locating:stoppingAt:)``):
        /// the rest of the text has not been looked at, so it is not known to be valid.
        var stoppedEarly = false
    }

    private var lexer: JSONLexer
    private let names: [StaticString]
    private let stopSlot: Int?
    private var outcome = Outcome()

    private init(bytes: UnsafeBufferPointer<UInt8>, maxDepth: Int, names: [StaticString], stopSlot: Int?) {
        precondition(names.count <= MemberRanges.capacity, "at most \(MemberRanges.capacity) members can be located")
        self.lexer = JSONLexer(bytes: bytes, maxDepth: maxDepth)
        self.names = names
        self.stopSlot = stopSlot
    }

    /// Validates a whole document (one value, optionally surrounded by whitespace) and, when it
    /// is an object, records in slot *i* of ``Outcome/members`` the range of the value of its
    /// member named `names[i]`.
    ///
    /// - Parameter stopSlot: when the top-level object has a member named `names[stopSlot]`, the
    ///   scan ends as soon as its key is read, unvalidated: for a caller to whom that member
    ///   means "not my kind of message" (a `method` makes a message a call, never a reply).
    /// - Throws: the ``JSONParseError`` that ``JSONParser`` throws for the same text.
    static func scan(
        _ bytes: UnsafeBufferPointer<UInt8>, maxDepth: Int, locating names: [StaticString], stoppingAt stopSlot: Int? = nil
    ) throws(JSONParseError) -> Outcome {
        var scanner = JSONScanner(bytes: bytes, maxDepth: maxDepth, names: names, stopSlot: stopSlot)
        try scanner.scanDocument()
        return scanner.outcome
    }

    private mutating func scanDocument() throws(JSONParseError) {
        lexer.skipWhitespace()
        try scanValue()
        if outcome.stoppedEarly { return }
        lexer.skipWhitespace()
        guard lexer.index == lexer.bytes.count else { throw JSONParseError(.trailingContent, offset: lexer.index) }
    }

    // MARK: Values

    private mutating func scanValue() throws(JSONParseError) {
        switch try lexer.current() {
        case ASCII.openBrace: try scanObject()
        case ASCII.openBracket: try scanArray()
        case ASCII.quote: _ = try lexer.string(decoding: false)
        case ASCII.lowerT: try lexer.expectLiteral("true")
        case ASCII.lowerF: try lexer.expectLiteral("false")
        case ASCII.lowerN: try lexer.expectLiteral("null")
        case ASCII.minus, ASCII.zero...ASCII.nine: _ = try lexer.number()
        default: throw lexer.unexpected("a JSON value")
        }
    }

    private mutating func scanObject() throws(JSONParseError) {
        let isTopLevel = lexer.depth == 0
        if isTopLevel { outcome.topLevelIsObject = true }
        try lexer.enterContainer()
        defer { lexer.leaveContainer() }
        lexer.index += 1  // {
        lexer.skipWhitespace()
        if lexer.consumeEmptyClose(ASCII.closeBrace) { return }
        repeat {
            lexer.skipWhitespace()
            guard try lexer.current() == ASCII.quote else { throw lexer.unexpected("a string key") }
            let keyStart = lexer.index
            let key = try lexer.string(decoding: false)
            let slot = isTopLevel ? self.slot(ofKey: keyStart..<lexer.index, hasEscapes: key.hasEscapes) : nil
            if let slot, slot == stopSlot {
                outcome.stoppedEarly = true
                return
            }
            lexer.skipWhitespace()
            try lexer.expect(ASCII.colon, "':'")
            lexer.skipWhitespace()
            let valueStart = lexer.index
            try scanValue()
            if let slot {
                // The parser keeps a repeated key's last value, so the last range is the one kept.
                if outcome.members[slot] != nil { outcome.members.hasDuplicates = true }
                outcome.members[slot] = valueStart..<lexer.index
            }
            lexer.skipWhitespace()
        } while try lexer.separator(closing: ASCII.closeBrace, "',' or '}'")
    }

    private mutating func scanArray() throws(JSONParseError) {
        try lexer.enterContainer()
        defer { lexer.leaveContainer() }
        lexer.index += 1  // [
        lexer.skipWhitespace()
        if lexer.consumeEmptyClose(ASCII.closeBracket) { return }
        repeat {
            lexer.skipWhitespace()
            try scanValue()
            lexer.skipWhitespace()
        } while try lexer.separator(closing: ASCII.closeBracket, "',' or ']'")
    }

    /// The slot of the located member named by the key whose quoted text is `quoted`.
    private func slot(ofKey quoted: Range<Int>, hasEscapes: Bool) -> Int? {
        let bytes = lexer.bytes
        let contents = UnsafeBufferPointer(rebasing: bytes[(quoted.lowerBound + 1)..<(quoted.upperBound - 1)])
        if !hasEscapes {
            return names.firstIndex { Self.equal(contents, $0) }
        }
        // To the parser `"\u0069d"` is the key `id`. Escaped keys are rare: decode this one.
        let key = try? JSONParser.parse(bytes: UnsafeBufferPointer(rebasing: bytes[quoted]), maxDepth: 1)
        guard case .string(var text)? = key else { return nil }
        return text.withUTF8 { decoded in names.firstIndex { Self.equal(decoded, $0) } }
    }

    private static func equal(_ bytes: UnsafeBufferPointer<UInt8>, _ name: StaticString) -> Bool {
        guard bytes.count == name.utf8CodeUnitCount else { return false }
        let expected = UnsafeBufferPointer(start: name.utf8Start, count: name.utf8CodeUnitCount)
        return bytes.elementsEqual(expected)
    }
}

/// The value ranges of up to five located members, held inline so a scan allocates nothing.
struct MemberRanges: Hashable {
    static let capacity = 5
    private var first, second, third, fourth, fifth: Range<Int>?
    /// Whether a located member occurred more than once (its slot holds the last occurrence).
    var hasDuplicates = false

    subscript(slot: Int) -> Range<Int>? {
        get {
            switch slot {
            case 0: return first
            case 1: return second
            case 2: return third
            case 3: return fourth
            case 4: return fifth
            default: return nil
            }
        }
        set {
            switch slot {
            case 0: first = newValue
            case 1: second = newValue
            case 2: third = newValue
            case 3: fourth = newValue
            case 4: fifth = newValue
            default: preconditionFailure("member slot \(slot) out of range")
            }
        }
    }
}
