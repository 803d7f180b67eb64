/// The tokens of JSON over UTF-8 bytes, with the grammar's errors and the nesting limit: the one
/// implementation of the grammar, shared by ``JSONParser`` (which builds values) and
/// ``JSONScanner`` (which only checks a text and locates members), so that both accept exactly
/// the same texts and fail on the same byte with the same error.
///
/// Strings make most of a reply's bytes (module sources), so ordinary string bytes are skipped
/// eight at a time; a word is looked at byte by byte only from its first quote, backslash or
/// control character on.
struct JSONLexer {
    let bytes: UnsafeBufferPointer<UInt8>
    let maxDepth: Int
    var index = 0
    var depth = 0
    /// The decoded bytes of the last string read with `decoding` that had escapes; reused, so
    /// each such string does not allocate a buffer of its own.
    private(set) var scratch: [UInt8] = []

    init(bytes: UnsafeBufferPointer<UInt8>, maxDepth: Int) {
        self.bytes = bytes
        self.maxDepth = maxDepth
    }

    /// The byte at `index`, or the end-of-input error.
    func current() throws(JSONParseError) -> UInt8 {
        guard index < bytes.count else { throw JSONParseError(.unexpectedEndOfInput, offset: index) }
        return bytes[index]
    }

    func unexpected(_ expected: String) -> JSONParseError {
        guard index < bytes.count else { return JSONParseError(.unexpectedEndOfInput, offset: index) }
        return JSONParseError(.unexpectedCharacter(bytes[index], expected: expected), offset: index)
    }

    // MARK: Structure

    /// Counts one more open object or array; throws beyond `maxDepth`.
    mutating func enterContainer() throws(JSONParseError) {
        guard depth < maxDepth else { throw JSONParseError(.nestingTooDeep(limit: maxDepth), offset: index) }
        depth += 1
    }

    mutating func leaveContainer() {
        depth -= 1
    }

    /// After a member or element: consumes `,` (true: another follows) or `close` (false).
    mutating func separator(closing close: UInt8, _ description: String) throws(JSONParseError) -> Bool {
        switch try current() {
        case ASCII.comma:
            index += 1
            return true
        case close:
            index += 1
            return false
        default:
            throw unexpected(description)
        }
    }

    /// Consumes `close` right after an opening bracket (an empty container); false otherwise.
    mutating func consumeEmptyClose(_ close: UInt8) -> Bool {
        guard index < bytes.count, bytes[index] == close else { return false }
        index += 1
        return true
    }

    mutating func expectLiteral(_ literal: StaticString) throws(JSONParseError) {
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

    mutating func expect(_ byte: UInt8, _ description: String) throws(JSONParseError) {
        guard try current() == byte else { throw unexpected(description) }
        index += 1
    }

    mutating func skipWhitespace() {
        while index < bytes.count {
            switch bytes[index] {
            case ASCII.space, ASCII.tab, ASCII.newline, ASCII.carriageReturn: index += 1
            default: return
            }
        }
    }

    // MARK: Numbers

    /// `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`, starting at `index`.
    struct Number {
        /// The whole number's text.
        var text: Range<Int>
        /// The integer part's digits, without the sign.
        var digits: Range<Int>
        var negative: Bool
        /// No fraction and no exponent.
        var isInteger: Bool
    }

    mutating func number() throws(JSONParseError) -> Number {
        let start = index
        let negative = bytes[index] == ASCII.minus
        if negative { index += 1 }
        let digitsStart = index
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
        let digitsEnd = index
        var isInteger = true
        if index < bytes.count, bytes[index] == ASCII.dot {
            isInteger = false
            index += 1
            guard skipDigits() > 0 else { throw JSONParseError(.invalidNumber, offset: start) }
        }
        if index < bytes.count, bytes[index] == ASCII.lowerE || bytes[index] == ASCII.upperE {
            isInteger = false
            index += 1
            if index < bytes.count, bytes[index] == ASCII.plus || bytes[index] == ASCII.minus { index += 1 }
            guard skipDigits() > 0 else { throw JSONParseError(.invalidNumber, offset: start) }
        }
        return Number(text: start..<index, digits: digitsStart..<digitsEnd, negative: negative, isInteger: isInteger)
    }

    @discardableResult
    private mutating func skipDigits() -> Int {
        let start = index
        while index < bytes.count, ASCII.isDigit(bytes[index]) { index += 1 }
        return index - start
    }

    // MARK: Strings

    /// A string read at `index` (its opening quote).
    struct StringToken {
        /// The bytes between the quotes, as written.
        var contents: Range<Int>
        /// Whether it has escapes (then, when decoding, its decoded bytes are in the scratch buffer).
        var hasEscapes: Bool
    }

    /// Reads a string. With `decoding`, a string that has escapes is decoded into ``scratch``
    /// (runs between escapes are copied in one piece); without, it is only checked.
    @inline(__always)
    mutating func string(decoding: Bool) throws(JSONParseError) -> StringToken {
        index += 1  // opening quote
        let start = index
        skipOrdinaryStringBytes()
        // Most strings have no escapes: the first stop byte is their closing quote.
        while index < bytes.count, bytes[index] != ASCII.quote, bytes[index] != ASCII.backslash {
            guard bytes[index] >= 0x20 else { throw JSONParseError(.controlCharacterInString(bytes[index]), offset: index) }
            index += 1
            skipOrdinaryStringBytes()
        }
        guard index < bytes.count else { throw JSONParseError(.unexpectedEndOfInput, offset: index) }
        if bytes[index] == ASCII.quote {
            index += 1
            return StringToken(contents: start..<(index - 1), hasEscapes: false)
        }
        if decoding {
            scratch.removeAll(keepingCapacity: true)
            scratch.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[start..<index]))
            try decodeRestOfString()
        } else {
            try checkRestOfString()
        }
        return StringToken(contents: start..<(index - 1), hasEscapes: true)
    }

    /// From the first escape to the closing quote, appending the decoded bytes to ``scratch``;
    /// runs between escapes are found byte by byte (they are short where escapes are dense) and
    /// copied in one piece.
    private mutating func decodeRestOfString() throws(JSONParseError) {
        while index < bytes.count {
            let byte = bytes[index]
            if byte == ASCII.quote {
                index += 1
                return
            } else if byte == ASCII.backslash {
                try escape(decoding: true)
            } else if byte < 0x20 {
                throw JSONParseError(.controlCharacterInString(byte), offset: index)
            } else {
                let runStart = index
                index += 1
                while index < bytes.count {
                    let next = bytes[index]
                    if next == ASCII.quote || next == ASCII.backslash || next < 0x20 { break }
                    index += 1
                }
                scratch.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[runStart..<index]))
            }
        }
        throw JSONParseError(.unexpectedEndOfInput, offset: index)
    }

    /// From the first escape to the closing quote, checking only: ordinary bytes are skipped
    /// eight at a time, and the escapes of source text (`\n`, `\"`, `\\`, `\t`) two bytes at once.
    private mutating func checkRestOfString() throws(JSONParseError) {
        let count = bytes.count
        while true {
            skipOrdinaryStringBytes()
            guard index < count else { throw JSONParseError(.unexpectedEndOfInput, offset: index) }
            let byte = bytes[index]
            if byte == ASCII.quote {
                index += 1
                return
            } else if byte == ASCII.backslash {
                if index &+ 1 < count, Self.isSingleCharacterEscape(bytes[index &+ 1]) {
                    index &+= 2
                } else {
                    try escape(decoding: false)
                }
            } else if byte < 0x20 {
                throw JSONParseError(.controlCharacterInString(byte), offset: index)
            } else {
                index += 1
            }
        }
    }

    /// Advances `index` past ordinary string bytes, eight at a time while eight remain.
    @inline(__always)
    private mutating func skipOrdinaryStringBytes() {
        let count = bytes.count
        guard let base = bytes.baseAddress else { return }
        while index &+ 8 <= count {
            let word = UInt64(littleEndian: UnsafeRawPointer(base).loadUnaligned(fromByteOffset: index, as: UInt64.self))
            let stops = Self.stopBytes(in: word)
            if stops != 0 {
                index &+= stops.trailingZeroBitCount &>> 3
                return
            }
            index &+= 8
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

    /// One escape sequence (the backslash is at `index`), checked, and with `decoding` appended
    /// to `scratch` as UTF-8.
    private mutating func escape(decoding: Bool) throws(JSONParseError) {
        let escapeStart = index
        index += 1
        let kind = try current()
        index += 1
        switch kind {
        case ASCII.quote, ASCII.backslash, ASCII.slash:
            if decoding { scratch.append(kind) }
        case ASCII.lowerB: if decoding { scratch.append(0x08) }
        case ASCII.lowerF: if decoding { scratch.append(0x0C) }
        case ASCII.lowerN: if decoding { scratch.append(0x0A) }
        case ASCII.lowerR: if decoding { scratch.append(0x0D) }
        case ASCII.lowerT: if decoding { scratch.append(0x09) }
        case ASCII.lowerU:
            let unit = try readHex4()
            let scalarValue: UInt32
            switch unit {
            case 0xD800...0xDBFF:
                // A high surrogate must be followed by an escaped low surrogate.
                guard index + 1 < bytes.count, bytes[index] == ASCII.backslash, bytes[index + 1] == ASCII.lowerU else {
                    throw JSONParseError(.unpairedSurrogate(unit), offset: escapeStart)
                }
                index += 2
                let low = try readHex4()
                guard (0xDC00...0xDFFF).contains(low) else {
                    throw JSONParseError(.unpairedSurrogate(unit), offset: escapeStart)
                }
                scalarValue = 0x10000 + ((UInt32(unit) - 0xD800) << 10) + (UInt32(low) - 0xDC00)
            case 0xDC00...0xDFFF:
                throw JSONParseError(.unpairedSurrogate(unit), offset: escapeStart)
            default:
                scalarValue = UInt32(unit)
            }
            if decoding {
                // Non-surrogate values below 0x110000 are always valid scalars.
                let scalar = Unicode.Scalar(scalarValue) ?? "\u{FFFD}"
                UTF8.encode(scalar) { scratch.append($0) }
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
}
