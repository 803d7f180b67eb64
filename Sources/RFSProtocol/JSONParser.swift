/// A strict RFC 8259 JSON parser over UTF-8 bytes.
///
/// Every imported module travels as one JSON-RPC reply whose `source` member can be megabytes,
/// so this parser works directly on the string's contiguous UTF-8 storage: strings without
/// escapes are copied out in one piece, escaped strings are rebuilt run by run in a reused
/// scratch buffer, and integers are accumulated without an intermediate `String`.
///
/// Recursion depth is bounded (`maxDepth`) so hostile input cannot overflow the stack; the same
/// bound keeps the recursive destruction of a parsed value safe.
struct JSONParser {
    private let bytes: UnsafeBufferPointer<UInt8>
    private let maxDepth: Int
    private var index = 0
    private var depth = 0
    /// Reused for strings that contain escapes, so each one does not allocate its own buffer.
    private var scratch: [UInt8] = []

    private init(bytes: UnsafeBufferPointer<UInt8>, maxDepth: Int) {
        self.bytes = bytes
        self.maxDepth = maxDepth
    }

    /// Parses a whole document: one value, optionally surrounded by whitespace.
    static func parse(_ text: String, maxDepth: Int) throws(JSONParseError) -> JSONValue {
        var text = text
        // Native strings already store contiguous UTF-8; bridged ones are converted once here.
        let outcome: Result<JSONValue, JSONParseError> = text.withUTF8 { buffer in
            Result { () throws(JSONParseError) -> JSONValue in try parse(bytes: buffer, maxDepth: maxDepth) }
        }
        return try outcome.get()
    }

    /// Parses a whole document held in UTF-8 bytes. Lets ``JSONScanner`` read the few small
    /// members it needs as values (an id, an error code) straight from a slice of the text.
    static func parse(bytes: UnsafeBufferPointer<UInt8>, maxDepth: Int) throws(JSONParseError) -> JSONValue {
        var parser = JSONParser(bytes: bytes, maxDepth: maxDepth)
        return try parser.parseDocument()
    }

    private mutating func parseDocument() throws(JSONParseError) -> JSONValue {
        skipWhitespace()
        let value = try parseValue()
        skipWhitespace()
        guard index == bytes.count else { throw JSONParseError(.trailingContent, offset: index) }
        return value
    }

    // MARK: Values

    private mutating func parseValue() throws(JSONParseError) -> JSONValue {
        guard index < bytes.count else { throw JSONParseError(.unexpectedEndOfInput, offset: index) }
        switch bytes[index] {
        case ASCII.openBrace: return try parseObject()
        case ASCII.openBracket: return try parseArray()
        case ASCII.quote: return .string(try parseString())
        case ASCII.lowerT: try expectLiteral("true"); return .bool(true)
        case ASCII.lowerF: try expectLiteral("false"); return .bool(false)
        case ASCII.lowerN: try expectLiteral("null"); return .null
        case ASCII.minus, ASCII.zero...ASCII.nine: return try parseNumber()
        case let byte: throw JSONParseError(.unexpectedCharacter(byte, expected: "a JSON value"), offset: index)
        }
    }

    private mutating func parseObject() throws(JSONParseError) -> JSONValue {
        try enterContainer()
        defer { depth -= 1 }
        index += 1  // {
        var members: [String: JSONValue] = [:]
        skipWhitespace()
        if index < bytes.count, bytes[index] == ASCII.closeBrace {
            index += 1
            return .object(members)
        }
        while true {
            skipWhitespace()
            guard index < bytes.count else { throw JSONParseError(.unexpectedEndOfInput, offset: index) }
            guard bytes[index] == ASCII.quote else {
                throw JSONParseError(.unexpectedCharacter(bytes[index], expected: "a string key"), offset: index)
            }
            let key = try parseString()
            skipWhitespace()
            try expect(ASCII.colon, "':'")
            skipWhitespace()
            // A repeated key keeps its last value, like most parsers (RFC 8259 §4 leaves it open).
            members[key] = try parseValue()
            skipWhitespace()
            guard index < bytes.count else { throw JSONParseError(.unexpectedEndOfInput, offset: index) }
            switch bytes[index] {
            case ASCII.comma:
                index += 1
            case ASCII.closeBrace:
                index += 1
                return .object(members)
            case let byte:
                throw JSONParseError(.unexpectedCharacter(byte, expected: "',' or '}'"), offset: index)
            }
        }
    }

    private mutating func parseArray() throws(JSONParseError) -> JSONValue {
        try enterContainer()
        defer { depth -= 1 }
        index += 1  // [
        var elements: [JSONValue] = []
        skipWhitespace()
        if index < bytes.count, bytes[index] == ASCII.closeBracket {
            index += 1
            return .array(elements)
        }
        while true {
            skipWhitespace()
            elements.append(try parseValue())
            skipWhitespace()
            guard index < bytes.count else { throw JSONParseError(.unexpectedEndOfInput, offset: index) }
            switch bytes[index] {
            case ASCII.comma:
                index += 1
            case ASCII.closeBracket:
                index += 1
                return .array(elements)
            case let byte:
                throw JSONParseError(.unexpectedCharacter(byte, expected: "',' or ']'"), offset: index)
            }
        }
    }

    private mutating func enterContainer() throws(JSONParseError) {
        guard depth < maxDepth else { throw JSONParseError(.nestingTooDeep(limit: maxDepth), offset: index) }
        depth += 1
    }

    // MARK: Numbers

    /// `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`. Integers that fit `Int64` become
    /// `.int`; anything else (fraction, exponent, or too large) becomes `.double`.
    private mutating func parseNumber() throws(JSONParseError) -> JSONValue {
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
        if isInteger, let value = integerValue(digits: digitsStart..<digitsEnd, negative: negative) {
            return .int(value)
        }
        let text = String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<index]), as: UTF8.self)
        // Swift's conversion is correctly rounded; magnitudes beyond Double become ±infinity.
        guard let value = Double(text) else { throw JSONParseError(.invalidNumber, offset: start) }
        return .double(value)
    }

    /// The digits as an `Int64`, or `nil` when they overflow it. Negative numbers accumulate
    /// downwards so `Int64.min` is representable.
    private func integerValue(digits: Range<Int>, negative: Bool) -> Int64? {
        var value: Int64 = 0
        for position in digits {
            let digit = Int64(bytes[position] &- ASCII.zero)
            let (shifted, overflowByMultiply) = value.multipliedReportingOverflow(by: 10)
            let (next, overflowByAdd) = negative
                ? shifted.subtractingReportingOverflow(digit)
                : shifted.addingReportingOverflow(digit)
            if overflowByMultiply || overflowByAdd { return nil }
            value = next
        }
        return value
    }

    @discardableResult
    private mutating func skipDigits() -> Int {
        let start = index
        while index < bytes.count, ASCII.isDigit(bytes[index]) { index += 1 }
        return index - start
    }

    // MARK: Strings

    private mutating func parseString() throws(JSONParseError) -> String {
        index += 1  // opening quote
        let start = index
        // Fast path: no escapes, so the bytes between the quotes are the string.
        while index < bytes.count {
            let byte = bytes[index]
            if byte == ASCII.quote {
                let value = String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<index]), as: UTF8.self)
                index += 1
                return value
            }
            if byte == ASCII.backslash { break }
            if byte < 0x20 { throw JSONParseError(.controlCharacterInString(byte), offset: index) }
            index += 1
        }
        // Slow path: rebuild the string in `scratch`, copying unescaped runs in one piece.
        scratch.removeAll(keepingCapacity: true)
        scratch.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[start..<index]))
        while index < bytes.count {
            let byte = bytes[index]
            if byte == ASCII.quote {
                index += 1
                return String(decoding: scratch, as: UTF8.self)
            } else if byte == ASCII.backslash {
                try parseEscape()
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

    /// Decodes one escape sequence (the backslash is at `index`) into `scratch`.
    private mutating func parseEscape() throws(JSONParseError) {
        let escapeStart = index
        index += 1
        guard index < bytes.count else { throw JSONParseError(.unexpectedEndOfInput, offset: index) }
        let kind = bytes[index]
        index += 1
        switch kind {
        case ASCII.quote, ASCII.backslash, ASCII.slash: scratch.append(kind)
        case ASCII.lowerB: scratch.append(0x08)
        case ASCII.lowerF: scratch.append(0x0C)
        case ASCII.lowerN: scratch.append(0x0A)
        case ASCII.lowerR: scratch.append(0x0D)
        case ASCII.lowerT: scratch.append(0x09)
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
            // Non-surrogate values below 0x110000 are always valid scalars.
            let scalar = Unicode.Scalar(scalarValue) ?? "\u{FFFD}"
            UTF8.encode(scalar) { scratch.append($0) }
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

/// The ASCII bytes JSON's grammar is written in.
enum ASCII {
    static let tab: UInt8 = 0x09
    static let newline: UInt8 = 0x0A
    static let carriageReturn: UInt8 = 0x0D
    static let space: UInt8 = 0x20
    static let quote: UInt8 = 0x22
    static let plus: UInt8 = 0x2B
    static let comma: UInt8 = 0x2C
    static let minus: UInt8 = 0x2D
    static let dot: UInt8 = 0x2E
    static let slash: UInt8 = 0x2F
    static let zero: UInt8 = 0x30
    static let nine: UInt8 = 0x39
    static let colon: UInt8 = 0x3A
    static let upperE: UInt8 = 0x45
    static let openBracket: UInt8 = 0x5B
    static let backslash: UInt8 = 0x5C
    static let closeBracket: UInt8 = 0x5D
    static let lowerB: UInt8 = 0x62
    static let lowerE: UInt8 = 0x65
    static let lowerF: UInt8 = 0x66
    static let lowerN: UInt8 = 0x6E
    static let lowerR: UInt8 = 0x72
    static let lowerT: UInt8 = 0x74
    static let lowerU: UInt8 = 0x75
    static let openBrace: UInt8 = 0x7B
    static let closeBrace: UInt8 = 0x7D

    static func isDigit(_ byte: UInt8) -> Bool { byte &- zero < 10 }

    static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case 0x30...0x39: return byte - 0x30
        case 0x41...0x46: return byte - 0x41 + 10
        case 0x61...0x66: return byte - 0x61 + 10
        default: return nil
        }
    }
}

extension JSONValue {
    /// How deeply arrays and objects may nest in parsed input by default. JSON-RPC messages of
    /// this protocol are a few levels deep; the limit exists to refuse hostile input cleanly.
    public static let defaultMaxNestingDepth = 512

    /// Parses a complete JSON text (RFC 8259, strict: no comments, trailing commas, `NaN`,
    /// single quotes or unpaired surrogates).
    ///
    /// - Throws: ``JSONParseError`` with the byte offset and the reason.
    public static func parse(_ text: String) throws -> JSONValue {
        try JSONParser.parse(text, maxDepth: defaultMaxNestingDepth)
    }

    /// Parses a complete JSON text, refusing arrays and objects nested deeper than `maxDepth`.
    ///
    /// - Throws: ``JSONParseError`` with the byte offset and the reason.
    public static func parse(_ text: String, maxDepth: Int) throws -> JSONValue {
        try JSONParser.parse(text, maxDepth: maxDepth)
    }
}
