/// Checks that a text is valid JSON by exactly the rules of ``JSONParser`` (the same grammar,
/// the same nesting limit, the same error at the same offset) without building any value, and
/// locates the values of chosen members of the top-level object.
///
/// It exists for messages that are forwarded rather than read: the worker daemon hands a
/// client's `fetch_module` reply (up to megabytes of module source) to the run host that asked,
/// and only needs to know that the text is sound and which request it answers. Parsing it into a
/// `JSONValue` would allocate a string for every member and copy every source once more, only
/// for the text to be serialized again. Agreement with the parser is what makes skipping it
/// safe, so the code below mirrors ``JSONParser`` function by function; keep them in step (the
/// tests feed both the same corpus and compare every outcome).
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

    private let bytes: UnsafeBufferPointer<UInt8>
    private let maxDepth: Int
    private var index = 0
    private var depth = 0
    private let names: [StaticString]
    private let stopSlot: Int?
    private var outcome = Outcome()

    private init(bytes: UnsafeBufferPointer<UInt8>, maxDepth: Int, names: [StaticString], stopSlot: Int?) {
        precondition(names.count <= MemberRanges.capacity, "at most \(MemberRanges.capacity) members can be located")
        self.bytes = bytes
        self.maxDepth = maxDepth
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
        skipWhitespace()
        try scanValue()
        if outcome.stoppedEarly { return }
        skipWhitespace()
        guard index == bytes.count else { throw JSONParseError(.trailingContent, offset: index) }
    }

    // MARK: Values

    private mutating func scanValue() throws(JSONParseError) {
        guard index < bytes.count else { throw JSONParseError(.unexpectedEndOfInput, offset: index) }
        switch bytes[index] {
        case ASCII.openBrace: try scanObject()
        case ASCII.openBracket: try scanArray()
        case ASCII.quote: _ = try scanString()
        case ASCII.lowerT: try expectLiteral("true")
        case ASCII.lowerF: try expectLiteral("false")
        case ASCII.lowerN: try expectLiteral("null")
        case ASCII.minus, ASCII.zero...ASCII.nine: try scanNumber()
        case let byte: throw JSONParseError(.unexpectedCharacter(byte, expected: "a JSON value"), offset: index)
        }
    }

    private mutating func scanObject() throws(JSONParseError) {
        let isTopLevel = depth == 0
        if isTopLevel { outcome.topLevelIsObject = true }
        try enterContainer()
        defer { depth -= 1 }
        index += 1  // {
        skipWhitespace()
        if index < bytes.count, bytes[index] == ASCII.closeBrace {
            index += 1
            return
        }
        while true {
            skipWhitespace()
            guard index < bytes.count else { throw JSONParseError(.unexpectedEndOfInput, offset: index) }
            guard bytes[index] == ASCII.quote else {
                throw JSONParseError(.unexpectedCharacter(bytes[index], expected: "a string key"), offset: index)
            }
            let keyStart = index
            let keyHasEscapes = try scanString()
            let slot = isTopLevel ? self.slot(ofKey: keyStart..<index, hasEscapes: keyHasEscapes) : nil
            if let slot, slot == stopSlot {
                outcome.stoppedEarly = true
                return
            }
            skipWhitespace()
            try expect(ASCII.colon, "':'")
            skipWhitespace()
            let valueStart = index
            try scanValue()
            if let slot {
                // The parser keeps a repeated key's last value, so the last range is the one kept.
                if outcome.members[slot] != nil { outcome.members.hasDuplicates = true }
                outcome.members[slot] = valueStart..<index
            }
            skipWhitespace()
            guard index < bytes.count else { throw JSONParseError(.unexpectedEndOfInput, offset: index) }
            switch bytes[index] {
            case ASCII.comma:
                index += 1
            case ASCII.closeBrace:
                index += 1
                return
            case let byte:
                throw JSONParseError(.unexpectedCharacter(byte, expected: "',' or '}'"), offset: index)
            }
        }
    }

    private mutating func scanArray() throws(JSONParseError) {
        try enterContainer()
        defer { depth -= 1 }
        index += 1  // [
        skipWhitespace()
        if index < bytes.count, bytes[index] == ASCII.closeBracket {
            index += 1
            return
        }
        while true {
            skipWhitespace()
            try scanValue()
            skipWhitespace()
            guard index < bytes.count else { throw JSONParseError(.unexpectedEndOfInput, offset: index) }
            switch bytes[index] {
            case ASCII.comma:
                index += 1
            case ASCII.closeBracket:
                index += 1
                return
            case let byte:
                throw JSONParseError(.unexpectedCharacter(byte, expected: "',' or ']'"), offset: index)
            }
        }
    }

    private mutating func enterContainer() throws(JSONParseError) {
        guard depth < maxDepth else { throw JSONParseError(.nestingTooDeep(limit: maxDepth), offset: index) }
        depth += 1
    }

    /// The slot of the located member named by the key whose quoted text is `quoted`.
    private func slot(ofKey quoted: Range<Int>, hasEscapes: Bool) -> Int? {
        let contents = UnsafeBufferPointer(rebasing: bytes[(quoted.lowerBound + 1)..<(quoted.upperBound - 1)])
        if !hasEscapes {
            return names.firstIndex { Self.equal(contents, $0) }
        }
        // To the parser `"\u0069d"` is the key `id`. Escaped keys are rare, so the parser itself
        // decodes this one rather than a second escape decoder here.
        let key = try? JSONParser.parse(bytes: UnsafeBufferPointer(rebasing: bytes[quoted]), maxDepth: 1)
        guard case .string(var text)? = key else { return nil }
        return text.withUTF8 { decoded in names.firstIndex { Self.equal(decoded, $0) } }
    }

    private static func equal(_ bytes: UnsafeBufferPointer<UInt8>, _ name: StaticString) -> Bool {
        guard bytes.count == name.utf8CodeUnitCount else { return false }
        let expected = UnsafeBufferPointer(start: name.utf8Start, count: name.utf8CodeUnitCount)
        return bytes.elementsEqual(expected)
    }

    // MARK: Numbers

    /// The grammar of ``JSONParser``'s `parseNumber`, with the same errors. Its final conversion
    /// to `Double` cannot fail on text that passed the grammar (a magnitude beyond `Double`
    /// becomes infinity), so there is nothing to convert here.
    private mutating func scanNumber() throws(JSONParseError) {
        let start = index
        if bytes[index] == ASCII.minus { index += 1 }
        guard index < bytes.count else { throw JSONParseError(.invalidNumber, offset: start) }
        if bytes[index] == ASCII.zero {
            index += 1
            if index < bytes.count, ASCII.isDigit(bytes[index]) {
                throw JSONParseError(.invalidNumber, offset: start)  // leading zero
            }
        } else if ASCII.isDigit(bytes[index]) {
            skipDigits()
        } else {
            throw JSONParseError(.invalidNumber, offset: start)
        }
        if index < bytes.count, bytes[index] == ASCII.dot {
            index += 1
            guard skipDigits() > 0 else { throw JSONParseError(.invalidNumber, offset: start) }
        }
        if index < bytes.count, bytes[index] == ASCII.lowerE || bytes[index] == ASCII.upperE {
            index += 1
            if index < bytes.count, bytes[index] == ASCII.plus || bytes[index] == ASCII.minus { index += 1 }
            guard skipDigits() > 0 else { throw JSONParseError(.invalidNumber, offset: start) }
        }
    }

    @discardableResult
    private mutating func skipDigits() -> Int {
        let start = index
        while index < bytes.count, ASCII.isDigit(bytes[index]) { index += 1 }
        return index - start
    }

    // MARK: Strings

    /// Validates a string (the opening quote is at `index`) and returns whether it has escapes.
    ///
    /// Module sources make strings most of a reply's bytes, so ordinary bytes are skipped eight
    /// at a time: a word is only looked at byte by byte from its first quote, backslash or
    /// control character on.
    private mutating func scanString() throws(JSONParseError) -> Bool {
        index += 1  // opening quote
        var hasEscapes = false
        let count = bytes.count
        while true {
            if index &+ 8 <= count, let base = bytes.baseAddress {
                repeat {
                    let word = UInt64(littleEndian: UnsafeRawPointer(base).loadUnaligned(fromByteOffset: index, as: UInt64.self))
                    let stops = Self.stopBytes(in: word)
                    if stops != 0 {
                        index &+= stops.trailingZeroBitCount &>> 3
                        break
                    }
                    index &+= 8
                } while index &+ 8 <= count
            }
            guard index < count else { throw JSONParseError(.unexpectedEndOfInput, offset: index) }
            let byte = bytes[index]
            if byte == ASCII.quote {
                index += 1
                return hasEscapes
            } else if byte == ASCII.backslash {
                hasEscapes = true
                // The escapes of source text (`\n`, `\"`, `\\`, `\t`) take two bytes and no checks.
                if index &+ 1 < count, Self.isSingleCharacterEscape(bytes[index &+ 1]) {
                    index &+= 2
                } else {
                    try scanEscape()
                }
            } else if byte < 0x20 {
                throw JSONParseError(.controlCharacterInString(byte), offset: index)
            } else {
                index += 1
            }
        }
    }

    /// Marks (with the byte's high bit) the bytes of `word` that end a run of ordinary string
    /// bytes: `"`, `\` and those below 0x20. Each test subtracts a constant from every byte at
    /// once, so a marked byte can leave a false mark on the bytes after it, but never on those
    /// before it: the lowest mark is always exact, and it is the only one used.
    @inline(__always)
    private static func stopBytes(in word: UInt64) -> UInt64 {
        let ones: UInt64 = 0x0101_0101_0101_0101
        let quotes = word ^ (ones &* UInt64(ASCII.quote))
        let backslashes = word ^ (ones &* UInt64(ASCII.backslash))
        let isQuote = (quotes &- ones) & ~quotes
        let isBackslash = (backslashes &- ones) & ~backslashes
        let isControl = (word &- ones &* 0x20) & ~word
        return (isQuote | isBackslash | isControl) & (ones &* 0x80)
    }

    /// `" \ / b f n r t`: what may follow a backslash, other than `u`.
    @inline(__always)
    private static func isSingleCharacterEscape(_ byte: UInt8) -> Bool {
        switch byte {
        case ASCII.quote, ASCII.backslash, ASCII.slash, ASCII.lowerB, ASCII.lowerF, ASCII.lowerN, ASCII.lowerR, ASCII.lowerT:
            return true
        default:
            return false
        }
    }

    /// Validates one escape sequence (the backslash is at `index`) like `parseEscape`.
    private mutating func scanEscape() throws(JSONParseError) {
        let escapeStart = index
        index += 1
        guard index < bytes.count else { throw JSONParseError(.unexpectedEndOfInput, offset: index) }
        let kind = bytes[index]
        index += 1
        switch kind {
        case _ where Self.isSingleCharacterEscape(kind):
            return
        case ASCII.lowerU:
            let unit = try readHex4()
            switch unit {
            case 0xD800...0xDBFF:
                guard index + 1 < bytes.count, bytes[index] == ASCII.backslash, bytes[index + 1] == ASCII.lowerU else {
                    throw JSONParseError(.unpairedSurrogate(unit), offset: escapeStart)
                }
                index += 2
                let low = try readHex4()
                guard (0xDC00...0xDFFF).contains(low) else {
                    throw JSONParseError(.unpairedSurrogate(unit), offset: escapeStart)
                }
            case 0xDC00...0xDFFF:
                throw JSONParseError(.unpairedSurrogate(unit), offset: escapeStart)
            default:
                return
            }
        default:
            throw JSONParseError(.invalidEscape(kind), offset: escapeStart)
        }
    }

    private mutating func readHex4() throws(JSONParseError) -> UInt16 {
        guard index + 4 <= bytes.count else { throw JSONParseError(.invalidUnicodeEscape, offset: index) }
        var value: UInt16 = 0
        for _ in 0..<4 {
            guard let nibble = ASCII.hexValue(bytes[index]) else {
                throw JSONParseError(.invalidUnicodeEscape, offset: index)
            }
            value = value << 4 | UInt16(nibble)
            index += 1
        }
        return value
    }

    // MARK: Tokens

    private mutating func expectLiteral(_ literal: StaticString) throws(JSONParseError) {
        let count = literal.utf8CodeUnitCount
        let expected = UnsafeBufferPointer(start: literal.utf8Start, count: count)
        for offset in 0..<count {
            guard index + offset < bytes.count else {
                throw JSONParseError(.unexpectedEndOfInput, offset: index + offset)
            }
            guard bytes[index + offset] == expected[offset] else {
                throw JSONParseError(
                    .unexpectedCharacter(bytes[index + offset], expected: "'\(literal)'"), offset: index + offset)
            }
        }
        index += count
    }

    private mutating func expect(_ byte: UInt8, _ description: String) throws(JSONParseError) {
        guard index < bytes.count else { throw JSONParseError(.unexpectedEndOfInput, offset: index) }
        guard bytes[index] == byte else {
            throw JSONParseError(.unexpectedCharacter(bytes[index], expected: description), offset: index)
        }
        index += 1
    }

    private mutating func skipWhitespace() {
        while index < bytes.count {
            switch bytes[index] {
            case ASCII.space, ASCII.tab, ASCII.newline, ASCII.carriageReturn: index += 1
            default: return
            }
        }
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
