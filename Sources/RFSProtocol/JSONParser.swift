/// A strict RFC 8259 JSON parser over UTF-8 bytes: builds the `JSONValue` of a text, reading
/// its tokens with ``JSONLexer`` (the grammar ``JSONScanner`` shares).
///
/// Every imported module travels as one JSON-RPC reply whose `source` member can be megabytes,
/// so this parser works directly on the string's contiguous UTF-8 storage: strings without
/// escapes are copied out in one piece, escaped strings are rebuilt run by run in a reused
/// scratch buffer, and integers are accumulated without an intermediate `String`.
///
/// Recursion depth is bounded (`maxDepth`) so hostile input cannot overflow the stack; the same
/// bound keeps the recursive destruction of a parsed value safe.
struct JSONParser {
    private var lexer: JSONLexer

    private init(bytes: UnsafeBufferPointer<UInt8>, maxDepth: Int) {
        lexer = JSONLexer(bytes: bytes, maxDepth: maxDepth)
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
        lexer.skipWhitespace()
        let value = try parseValue()
        lexer.skipWhitespace()
        guard lexer.index == lexer.bytes.count else { throw JSONParseError(.trailingContent, offset: lexer.index) }
        return value
    }

    // MARK: Values

    private mutating func parseValue() throws(JSONParseError) -> JSONValue {
        switch try lexer.current() {
        case ASCII.openBrace: return try parseObject()
        case ASCII.openBracket: return try parseArray()
        case ASCII.quote: return .string(try parseString())
        case ASCII.lowerT: try lexer.expectLiteral("true"); return .bool(true)
        case ASCII.lowerF: try lexer.expectLiteral("false"); return .bool(false)
        case ASCII.lowerN: try lexer.expectLiteral("null"); return .null
        case ASCII.minus, ASCII.zero...ASCII.nine: return try parseNumber()
        default: throw lexer.unexpected("a JSON value")
        }
    }

    private mutating func parseObject() throws(JSONParseError) -> JSONValue {
        try lexer.enterContainer()
        defer { lexer.leaveContainer() }
        lexer.index += 1  // {
        var members: [String: JSONValue] = [:]
        lexer.skipWhitespace()
        if lexer.consumeEmptyClose(ASCII.closeBrace) { return .object(members) }
        repeat {
            lexer.skipWhitespace()
            guard try lexer.current() == ASCII.quote else { throw lexer.unexpected("a string key") }
            let key = try parseString()
            lexer.skipWhitespace()
            try lexer.expect(ASCII.colon, "':'")
            lexer.skipWhitespace()
            // A repeated key keeps its last value, like most parsers (RFC 8259 §4 leaves it open).
            members[key] = try parseValue()
            lexer.skipWhitespace()
        } while try lexer.separator(closing: ASCII.closeBrace, "',' or '}'")
        return .object(members)
    }

    private mutating func parseArray() throws(JSONParseError) -> JSONValue {
        try lexer.enterContainer()
        defer { lexer.leaveContainer() }
        lexer.index += 1  // [
        var elements: [JSONValue] = []
        lexer.skipWhitespace()
        if lexer.consumeEmptyClose(ASCII.closeBracket) { return .array(elements) }
        repeat {
            lexer.skipWhitespace()
            elements.append(try parseValue())
            lexer.skipWhitespace()
        } while try lexer.separator(closing: ASCII.closeBracket, "',' or ']'")
        return .array(elements)
    }

    // MARK: Scalars

    /// Integers that fit `Int64` become `.int`; anything else (fraction, exponent, or too large)
    /// becomes `.double`.
    private mutating func parseNumber() throws(JSONParseError) -> JSONValue {
        let number = try lexer.number()
        if number.isInteger, let value = integerValue(digits: number.digits, negative: number.negative) {
            return .int(value)
        }
        let text = String(decoding: UnsafeBufferPointer(rebasing: lexer.bytes[number.text]), as: UTF8.self)
        // Swift's conversion is correctly rounded; magnitudes beyond Double become ±infinity.
        guard let value = Double(text) else { throw JSONParseError(.invalidNumber, offset: number.text.lowerBound) }
        return .double(value)
    }

    /// The digits as an `Int64`, or `nil` when they overflow it. Negative numbers accumulate
    /// downwards so `Int64.min` is representable.
    private func integerValue(digits: Range<Int>, negative: Bool) -> Int64? {
        var value: Int64 = 0
        for position in digits {
            let digit = Int64(lexer.bytes[position] &- ASCII.zero)
            let (shifted, overflowByMultiply) = value.multipliedReportingOverflow(by: 10)
            let (next, overflowByAdd) = negative
                ? shifted.subtractingReportingOverflow(digit)
                : shifted.addingReportingOverflow(digit)
            if overflowByMultiply || overflowByAdd { return nil }
            value = next
        }
        return value
    }

    private mutating func parseString() throws(JSONParseError) -> String {
        let token = try lexer.string(decoding: true)
        if token.hasEscapes { return String(decoding: lexer.scratch, as: UTF8.self) }
        return String(decoding: UnsafeBufferPointer(rebasing: lexer.bytes[token.contents]), as: UTF8.self)
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
