import Testing
@testable import RFSProtocol

@Suite("JSON parser")
struct JSONParserTests {
    // MARK: Cases (also fed to the envelope scan, which must agree with the parser on each)

    static let integers: [(String, Int64)] = [
        ("0", 0), ("-0", 0), ("7", 7), ("-123", -123),
        ("9223372036854775807", .max), ("-9223372036854775808", .min),
    ]
    static let doubles: [(String, Double)] = [
        ("1.5", 1.5), ("-0.25", -0.25), ("1e3", 1000), ("1E+2", 100), ("-1.25e-3", -0.00125),
        ("2.0", 2.0), ("9223372036854775808", 9223372036854775808.0),
        ("-9223372036854775809", -9223372036854775809.0),
        ("123456789012345678901234567890", 123456789012345678901234567890.0),
    ]
    static let invalidNumbers = ["01", "-01", "-", "1.", "1e", "1e+", "--1", "1.e3", "-.5", "-a", "1E-"]
    static let badNumberStarts = [".5", "+1"]
    static let trailingAfterNumbers = ["0x10", "00", "1.5.2"]
    static let nonFiniteLiterals = ["NaN", "Infinity", "-Infinity"]
    static let unpairedSurrogates = [#""\uD83D""#, #""\uD83Dx""#, #""\uD83D\u0041""#, #""\uDE00""#, #""a\uDBFF\n""#]
    static let invalidEscapes = [#""\x""#, #""\a""#, #""\'""#, #""\U0041""#]
    static let shortUnicodeEscapes = [#""\u12""#, #""\u12G4""#, #""\u""#]
    static let malformedDocuments = [
        "", " ", "[", "[1,]", "[1 2]", "{", #"{"a"}"#, #"{"a":}"#, #"{"a":1,}"#, #"{a:1}"#,
        "{'a':1}", "'x'", #""unterminated"#, "tru", "nul", "True", "[1]]", "1 2", "// c\n1",
        "/* c */ 1", "\u{FEFF}1", "[,1]", #"{"a":1 "b":2}"#, "{,}",
    ]

    // MARK: Values

    @Test("literals and containers parse to the matching JSONValue")
    func structure() throws {
        #expect(try JSONValue.parse("null") == .null)
        #expect(try JSONValue.parse("true") == .bool(true))
        #expect(try JSONValue.parse("false") == .bool(false))
        #expect(try JSONValue.parse("[]") == .array([]))
        #expect(try JSONValue.parse("{}") == .object([:]))
        #expect(try JSONValue.parse(#"{"a":[1,{"b":null}],"c":"d"}"#) == ["a": [1, ["b": nil]], "c": "d"])
    }

    @Test("whitespace (space, tab, newline, carriage return) is allowed around every token")
    func whitespace() throws {
        #expect(try JSONValue.parse(" \t\r\n{ \"a\" :\n[ 1 ,\t2 ] } \n") == ["a": [1, 2]])
    }

    @Test("a repeated object key keeps its last value")
    func duplicateKeys() throws {
        #expect(try JSONValue.parse(#"{"a":1,"a":2}"#) == ["a": 2])
    }

    // MARK: Numbers

    @Test(
        "integers that fit Int64 are .int",
        arguments: integers)
    func integers(text: String, value: Int64) throws {
        #expect(try JSONValue.parse(text) == .int(value))
    }

    @Test(
        "fractions, exponents and integers beyond Int64 are .double",
        arguments: doubles)
    func doubles(text: String, value: Double) throws {
        #expect(try JSONValue.parse(text) == .double(value))
    }

    @Test("a number too large for Double becomes infinity, as in Python")
    func hugeExponent() throws {
        #expect(try JSONValue.parse("1e400") == .double(.infinity))
    }

    @Test(
        "numbers outside JSON's grammar are rejected",
        arguments: invalidNumbers)
    func invalidNumbers(text: String) {
        let error = #expect(throws: JSONParseError.self) { try JSONValue.parse(text) }
        #expect(error?.reason == .invalidNumber)
    }

    @Test("a number must start with a digit or minus", arguments: badNumberStarts)
    func numberStart(text: String) {
        let error = #expect(throws: JSONParseError.self) { try JSONValue.parse(text) }
        #expect(error == JSONParseError(.unexpectedCharacter(text.utf8.first!, expected: "a JSON value"), offset: 0))
    }

    @Test("digits after a complete number are not part of it", arguments: trailingAfterNumbers)
    func trailingAfterNumber(text: String) {
        let error = #expect(throws: JSONParseError.self) { try JSONValue.parse(text) }
        #expect(error?.reason == .trailingContent || error?.reason == .invalidNumber)
    }

    @Test("NaN and Infinity are not JSON", arguments: nonFiniteLiterals)
    func nonFiniteLiterals(text: String) {
        #expect(throws: JSONParseError.self) { try JSONValue.parse(text) }
    }

    // MARK: Strings

    @Test("every escape JSON defines is decoded")
    func escapes() throws {
        #expect(try JSONValue.parse(#""\" \\ \/ \b \f \n \r \t""#) == .string("\" \\ / \u{08} \u{0C} \n \r \t"))
    }

    @Test("\\u escapes decode, including surrogate pairs and NUL")
    func unicodeEscapes() throws {
        #expect(try JSONValue.parse(#""\u0041\u00e9\u20AC""#) == .string("Aé€"))
        #expect(try JSONValue.parse(#""\uD83D\uDE00""#) == .string("😀"))
        #expect(try JSONValue.parse(#""x\ud83d\ude00y""#) == .string("x😀y"))
        #expect(try JSONValue.parse(#""\u0000""#) == .string("\u{0}"))
    }

    @Test("raw UTF-8 passes through unchanged")
    func rawUTF8() throws {
        #expect(try JSONValue.parse(#""héllo wörld 😀 日本""#) == .string("héllo wörld 😀 日本"))
        #expect(try JSONValue.parse(#"{"ключ":"значение"}"#) == ["ключ": "значение"])
    }

    @Test("escapes mixed with long unescaped runs decode correctly")
    func mixedEscapes() throws {
        let text = #""def f():\n    return \"x\" + '\\'\n""#
        #expect(try JSONValue.parse(text) == .string("def f():\n    return \"x\" + '\\'\n"))
    }

    @Test(
        "unpaired surrogates are rejected (a Swift string cannot hold one)",
        arguments: unpairedSurrogates)
    func unpairedSurrogates(text: String) {
        let error = #expect(throws: JSONParseError.self) { try JSONValue.parse(text) }
        guard case .unpairedSurrogate? = error?.reason else {
            Issue.record("expected unpairedSurrogate, got \(String(describing: error))")
            return
        }
    }

    @Test("invalid escapes are rejected", arguments: invalidEscapes)
    func invalidEscapes(text: String) {
        let error = #expect(throws: JSONParseError.self) { try JSONValue.parse(text) }
        guard case .invalidEscape? = error?.reason else {
            Issue.record("expected invalidEscape, got \(String(describing: error))")
            return
        }
    }

    @Test("\\u needs exactly four hex digits", arguments: shortUnicodeEscapes)
    func shortUnicodeEscapes(text: String) {
        let error = #expect(throws: JSONParseError.self) { try JSONValue.parse(text) }
        #expect(error?.reason == .invalidUnicodeEscape)
    }

    @Test("raw control characters inside strings are rejected")
    func controlCharacters() {
        let error = #expect(throws: JSONParseError.self) { try JSONValue.parse("\"a\nb\"") }
        #expect(error?.reason == .controlCharacterInString(0x0A))
        #expect(throws: JSONParseError.self) { try JSONValue.parse("\"a\u{01}\"") }
        #expect(throws: JSONParseError.self) { try JSONValue.parse("\"a\\n\tb\"") }
    }

    // MARK: Invalid documents

    @Test(
        "malformed documents are rejected",
        arguments: malformedDocuments)
    func malformed(text: String) {
        #expect(throws: JSONParseError.self) { try JSONValue.parse(text) }
    }

    @Test("the error says where and why")
    func errorContext() {
        let error = #expect(throws: JSONParseError.self) { try JSONValue.parse(#"{"a": tru}"#) }
        #expect(error?.offset == 9)
        #expect(error?.reason == .unexpectedCharacter(UInt8(ascii: "}"), expected: "'true'"))
        #expect(error?.description == "invalid JSON at byte 9: unexpected '}', expected 'true'")

        let trailing = #expect(throws: JSONParseError.self) { try JSONValue.parse("[1] x") }
        #expect(trailing == JSONParseError(.trailingContent, offset: 4))

        let empty = #expect(throws: JSONParseError.self) { try JSONValue.parse("") }
        #expect(empty == JSONParseError(.unexpectedEndOfInput, offset: 0))
    }

    // MARK: Nesting

    @Test("nesting up to the limit parses; one level more is refused")
    func nestingLimit() throws {
        let limit = JSONValue.defaultMaxNestingDepth
        let deepest = String(repeating: "[", count: limit) + String(repeating: "]", count: limit)
        var value = try JSONValue.parse(deepest)
        var depth = 1
        while case .array(let elements) = value, let first = elements.first {
            value = first
            depth += 1
        }
        #expect(depth == limit)

        let tooDeep = "[" + deepest + "]"
        let error = #expect(throws: JSONParseError.self) { try JSONValue.parse(tooDeep) }
        #expect(error?.reason == .nestingTooDeep(limit: limit))
    }

    @Test("hostile nesting (100,000 levels) is refused without exhausting the stack")
    func hostileNesting() {
        let arrays = String(repeating: "[", count: 100_000)
        #expect(throws: JSONParseError.self) { try JSONValue.parse(arrays) }
        let objects = String(repeating: #"{"a":"#, count: 100_000)
        #expect(throws: JSONParseError.self) { try JSONValue.parse(objects) }
    }

    @Test("the nesting limit can be chosen per call")
    func customNestingLimit() throws {
        #expect(try JSONValue.parse("[[1]]", maxDepth: 2) == [[1]])
        #expect(throws: JSONParseError.self) { try JSONValue.parse("[[[1]]]", maxDepth: 2) }
    }
}
