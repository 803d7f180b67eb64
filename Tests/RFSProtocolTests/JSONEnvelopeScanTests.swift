import Testing
@testable import RFSProtocol

/// The envelope scan validates a text without building values, so a forwarder can trust a text
/// it never parsed. That is only safe if it accepts and refuses exactly what the parser does, and
/// finds the members the parser would find: every test here compares the two.
@Suite("JSON envelope scan")
struct JSONEnvelopeScanTests {
    // MARK: Agreement with the parser

    /// Why the scan and the parser disagree on `text`, or `nil` when they agree: both accept it
    /// (and every located member's text parses to the parser's value of that member, so the
    /// ranges name what the parser kept), or both refuse it with the same error at the same offset.
    static func disagreement(on text: String, maxDepth: Int = JSONValue.defaultMaxNestingDepth) -> String? {
        let parsed = Result { () throws(JSONParseError) -> JSONValue in try JSONParser.parse(text, maxDepth: maxDepth) }
        let scanned = Result { () throws(JSONParseError) -> JSONRPCEnvelope in try JSONRPCEnvelope.scan(text, maxDepth: maxDepth) }
        switch (parsed, scanned) {
        case (.failure(let parserError), .failure(let scanError)):
            return parserError == scanError ? nil : "\(text.debugDescription): parser \(parserError), scan \(scanError)"
        case (.success(let value), .success(let envelope)):
            guard envelope.isObject == (value.objectValue != nil) else {
                return "\(text.debugDescription): isObject \(envelope.isObject) for \(value.typeName)"
            }
            let located = [
                ("jsonrpc", envelope.jsonrpc), ("id", envelope.id), ("method", envelope.method),
                ("result", envelope.result), ("error", envelope.error),
            ]
            for (name, range) in located {
                let member = range.flatMap { try? JSONValue.parse(slice(text, $0)) }
                if member != value[name] || (range == nil) != (value[name] == nil) {
                    return "\(text.debugDescription): member \(name) at \(String(describing: range)) is \(String(describing: member)), parser has \(String(describing: value[name]))"
                }
            }
            return nil
        case (.success, .failure(let scanError)):
            return "\(text.debugDescription): parser accepts, scan refuses with \(scanError)"
        case (.failure(let parserError), .success):
            return "\(text.debugDescription): scan accepts, parser refuses with \(parserError)"
        }
    }

    static func slice(_ text: String, _ range: Range<Int>) -> String {
        String(decoding: Array(text.utf8)[range], as: UTF8.self)
    }

    /// The texts the parser's own tests accept.
    static let validTexts: [String] = [
        "null", "true", "false", "[]", "{}", #"{"a":[1,{"b":null}],"c":"d"}"#,
        " \t\r\n{ \"a\" :\n[ 1 ,\t2 ] } \n", #"{"a":1,"a":2}"#, "1e400",
        #""\" \\ \/ \b \f \n \r \t""#, #""\u0041\u00e9\u20AC""#, #""\uD83D\uDE00""#, #""x\ud83d\ude00y""#,
        #""\u0000""#, #""héllo wörld 😀 日本""#, #"{"ключ":"значение"}"#, #""def f():\n    return \"x\" + '\\'\n""#,
        "[[1]]",
    ] + JSONParserTests.integers.map(\.0) + JSONParserTests.doubles.map(\.0)

    /// The texts the parser's own tests refuse.
    static let invalidTexts: [String] = JSONParserTests.invalidNumbers + JSONParserTests.badNumberStarts
        + JSONParserTests.trailingAfterNumbers + JSONParserTests.nonFiniteLiterals + JSONParserTests.unpairedSurrogates
        + JSONParserTests.invalidEscapes + JSONParserTests.shortUnicodeEscapes + JSONParserTests.malformedDocuments
        + [#"{"a": tru}"#, "[1] x", "\"a\nb\"", "\"a\u{01}\"", "\"a\\n\tb\""]

    /// The edges of `\u` escapes: the first and last of each range of UTF-16 units.
    static let unicodeEscapeEdges: [String] = [
        #""\uD7FF""#, #""\uE000""#, #""\uFFFF""#, #""\uD800\uDC00""#, #""\uDBFF\uDFFF""#, #""\uDBFF\uE000""#,
        #""\uD800\uD800""#, #""\uDC00""#, #""\uDFFF""#, #""\uD800\""#, #""\uD800\u""#, #""\uD800\uDC0""#, #""\u00""#,
    ]

    /// Numbers at the edges of `Double`, which the parser converts and the scan does not.
    static let extremeNumbers: [String] = [
        "1e999999999999999999999999", "-1e-999999999999999999999", "0e0", "-0.0e-0", "1E+00000000000000000001",
        String(repeating: "9", count: 5000), "0." + String(repeating: "0", count: 100_000) + "1",
        "1." + String(repeating: "1", count: 10_000) + "e-400",
    ]

    @Test("the parser's test cases: the same texts accepted, the same errors at the same offsets")
    func parserCases() {
        for text in Self.validTexts + Self.extremeNumbers {
            #expect(throws: Never.self) { try JSONValue.parse(text) }
        }
        for text in Self.invalidTexts {
            #expect(throws: JSONParseError.self) { try JSONValue.parse(text) }
        }
        for text in Self.validTexts + Self.extremeNumbers + Self.invalidTexts + Self.unicodeEscapeEdges {
            #expect(Self.disagreement(on: text) == nil)
        }
    }

    @Test("the nesting limit: the same depth accepted, the same error one level deeper, hostile depth refused")
    func nesting() {
        let limit = JSONValue.defaultMaxNestingDepth
        let deepest = String(repeating: "[", count: limit) + String(repeating: "]", count: limit)
        #expect(Self.disagreement(on: deepest) == nil)
        #expect(Self.disagreement(on: "[" + deepest + "]") == nil)
        #expect(throws: JSONParseError(.nestingTooDeep(limit: limit), offset: limit)) {
            try JSONRPCEnvelope.scan("[" + deepest + "]")
        }
        #expect(Self.disagreement(on: String(repeating: "[", count: 100_000)) == nil)
        #expect(Self.disagreement(on: String(repeating: #"{"a":"#, count: 100_000)) == nil)
        for maxDepth in 1...4 {
            for text in ["[[1]]", "[[[1]]]", #"{"id":{"a":[{}]}}"#, #"[{"result":[]}]"#] {
                #expect(Self.disagreement(on: text, maxDepth: maxDepth) == nil)
            }
        }
    }

    /// Messages that use every construct: escapes of each kind, surrogate pairs, raw non-ASCII,
    /// every number form, nesting, an escaped envelope key, and whitespace of each kind.
    static let seeds: [String] = [
        #"{"jsonrpc":"2.0","result":{"name":"pkg.mod","source":"def f():\n    return \"x\" + '\\'\n\tπ 😀 \uD83D\uDE00 \u00e9\/","n":[-0.5e+3,0,12,1E-2,true,false,null,{}]},"id":7}"#,
        " [ {\"id\" : \"a\\/b\" , \"error\":{\"code\":-32602,\"message\":\"bad\",\"data\":[1.25E-2,\"\\u0000\"]}} , 1 ]\r\n",
        #"{"\u0069d":1,"method":"m","params":{"id":2},"id":3,"jsonrpc":"2.0"}"#,
        #"{"error":{"code":-32602,"message":"bad \"x\"","data":{"k":[1,2]}},"id":"r\u00e9", "jsonrpc":"2.0"}"#,
    ]

    @Test("every prefix, deletion and one-byte substitution of rich messages: the scan agrees with the parser and the decoder")
    func mutations() {
        let replacements = Array(#"{}[]",:\"0-+.eEutfnD \#u{01}x"#.utf8) + [0x0A, 0x7F]
        var corpus: [String] = []
        for seed in Self.seeds {
            let bytes = Array(seed.utf8)
            for end in 0...bytes.count {
                corpus.append(String(decoding: bytes[..<end], as: UTF8.self))
            }
            for position in bytes.indices {
                var deleted = bytes
                deleted.remove(at: position)
                corpus.append(String(decoding: deleted, as: UTF8.self))
                for byte in replacements where byte != bytes[position] {
                    var replaced = bytes
                    replaced[position] = byte
                    corpus.append(String(decoding: replaced, as: UTF8.self))
                }
            }
        }
        let disagreements = corpus.compactMap { Self.disagreement(on: $0) ?? Self.responseDisagreement(on: $0) }
        #expect(disagreements.isEmpty, "\(disagreements.count) of \(corpus.count) texts, e.g. \(disagreements.prefix(5))")
        // The corpus is worth something only if it holds both outcomes in numbers (about 3,000
        // of 9,000 texts are valid JSON, a thousand of them valid responses).
        let accepted = corpus.filter { (try? JSONValue.parse($0)) != nil }.count
        let responses = corpus.filter { JSONRPCEnvelope.response(in: $0, maxDepth: JSONValue.defaultMaxNestingDepth) != nil }.count
        #expect(accepted > 2000 && corpus.count - accepted > 4000 && responses > 500)
    }

    // MARK: Member ranges

    @Test("the ranges cover exactly each envelope member's value, wherever and however it is written")
    func ranges() throws {
        let text = " {  \"id\" :\t\"x\" ,\"error\" : { \"code\" : 1 , \"message\" : \"m\" } ,\n\"jsonrpc\":\"2.0\" , \"extra\": {\"result\": 1} }  "
        let envelope = try JSONRPCEnvelope.scan(text)
        #expect(envelope.isObject)
        #expect(envelope.id.map { Self.slice(text, $0) } == #""x""#)
        #expect(envelope.error.map { Self.slice(text, $0) } == #"{ "code" : 1 , "message" : "m" }"#)
        #expect(envelope.jsonrpc.map { Self.slice(text, $0) } == #""2.0""#)
        // Members of nested objects are not the envelope's.
        #expect(envelope.result == nil && envelope.method == nil)
        #expect(!envelope.hasDuplicateMembers)
    }

    @Test("ranges are UTF-8 byte offsets, not character counts")
    func byteOffsets() throws {
        let text = #"{"é":"😀","id":12}"#
        #expect(try JSONRPCEnvelope.scan(text).id == 18..<20)
    }

    @Test("an escaped key is the member it spells, as for the parser")
    func escapedKey() throws {
        let text = #"{"\u0069d":5,"re\u0073ult":[]}"#
        let envelope = try JSONRPCEnvelope.scan(text)
        #expect(envelope.id.map { Self.slice(text, $0) } == "5")
        #expect(envelope.result.map { Self.slice(text, $0) } == "[]")
    }

    @Test("a repeated envelope member is flagged, and its range is the last one, the value the parser keeps")
    func duplicates() throws {
        let text = #"{"id":1,"result":null,"id":2}"#
        let envelope = try JSONRPCEnvelope.scan(text)
        #expect(envelope.hasDuplicateMembers)
        #expect(envelope.id.map { Self.slice(text, $0) } == "2")
        #expect(try JSONValue.parse(text)["id"] == 2)
        // Other repeated members do not concern the envelope.
        #expect(try !JSONRPCEnvelope.scan(#"{"a":1,"a":2,"id":3}"#).hasDuplicateMembers)
    }

    @Test("a batch or any other non-object value has no envelope members", arguments: [
        #"[{"jsonrpc":"2.0","result":1,"id":1}]"#, #""id""#, "7", "null",
    ])
    func nonObjects(text: String) throws {
        #expect(try JSONRPCEnvelope.scan(text) == JSONRPCEnvelope(
            isObject: false, jsonrpc: nil, id: nil, method: nil, result: nil, error: nil, hasDuplicateMembers: false))
    }

    // MARK: Responses, as the peer reads them

    /// JSON-RPC texts of every kind, valid and not (the decoder tests' among them).
    static let messages: [String] = [
        #"{"jsonrpc":"2.0","result":null,"id":3}"#,
        #"{"jsonrpc":"2.0","error":{"code":-32602,"message":"Invalid params","data":{"k":1}},"id":"a"}"#,
        #"{"jsonrpc":"2.0","error":{"code":-32700,"message":"Parse error"},"id":null}"#,
        #"{"id":7.0,"result":{"method":"nested, not a call"},"jsonrpc":"2\u002e0"}"#,
        #" {"result" : [1,2] , "id" : "x" , "jsonrpc" : "2.0" , "trace" : "t"} "#,
        #"{"jsonrpc":"2.0","error":{"message":"m","code":1,"data":"big"},"id":-9}"#,
        #"{"jsonrpc":"2.0","result":1,"error":{"code":1,"message":"x"},"id":4}"#,
        #"{"jsonrpc":"2.0","result":1}"#, #"{"jsonrpc":"2.0","result":1,"id":null}"#,
        #"{"jsonrpc":"2.0","result":1,"id":{}}"#, #"{"jsonrpc":"2.0","result":1,"id":1.5}"#,
        #"{"jsonrpc":"2.0","result":1,"id":1e300}"#, #"{"jsonrpc":"2.0","result":1,"id":true}"#,
        #"{"jsonrpc":"2.0","error":{"code":1,"message":"x"},"id":[1]}"#,
        #"{"jsonrpc":"2.0","error":{"code":"1","message":"x"},"id":1}"#,
        #"{"jsonrpc":"2.0","error":{"code":1.5,"message":"x"},"id":1}"#,
        #"{"jsonrpc":"2.0","error":{"code":1e2,"message":"x"},"id":1}"#,
        #"{"jsonrpc":"2.0","error":{"code":99999999999999999999,"message":"x"},"id":1}"#,
        #"{"jsonrpc":"2.0","error":{"code":1},"id":1}"#, #"{"jsonrpc":"2.0","error":{"message":"x"},"id":1}"#,
        #"{"jsonrpc":"2.0","error":{"code":1,"message":2},"id":1}"#, #"{"jsonrpc":"2.0","error":"boom","id":1}"#,
        #"{"jsonrpc":"2.0","error":null,"id":1}"#, #"{"jsonrpc":"1.0","result":1,"id":1}"#,
        #"{"result":1,"id":1}"#, #"{"jsonrpc":2.0,"result":1,"id":1}"#, #"{"jsonrpc":"2.0 ","result":1,"id":1}"#,
        #"{"jsonrpc":"2.0","method":"m","params":[1],"id":1}"#, #"{"jsonrpc":"2.0","method":"output"}"#,
        #"{"id":1,"result":1,"method":"m","jsonrpc":"2.0"}"#, #"{"jsonrpc":"2.0","params":[1],"id":1}"#,
        #"[{"jsonrpc":"2.0","result":1,"id":1}]"#, "[]", "1", "{", "}{", "",
        #"{"jsonrpc":"2.0","result":1,"id":1} x"#, #"{"jsonrpc":"2.0","result":"\uD800","id":1}"#,
    ]

    /// Why the peer's reading of `text` as a response (``JSONRPCEnvelope/response(in:maxDepth:)``)
    /// differs from the decoder's, or `nil` when both take it for the same valid response with
    /// an id, or both do not. The one difference allowed: a response whose envelope members
    /// repeat is left to the decoder.
    static func responseDisagreement(on text: String) -> String? {
        let response = JSONRPCEnvelope.response(in: text, maxDepth: JSONValue.defaultMaxNestingDepth)
        var decoded: JSONRPCResponse?
        if case .single(.success(.response(let reply))) = JSONRPCDecoder.decode(text), reply.id != nil {
            decoded = reply
        }
        if response == nil, decoded != nil, (try? JSONRPCEnvelope.scan(text))?.hasDuplicateMembers == true { return nil }
        guard response?.id == decoded?.id, response.map(\.isError) == decoded.map({ $0.error != nil }) else {
            return "\(text.debugDescription): scan reads \(String(describing: response)), decoder \(String(describing: decoded))"
        }
        return nil
    }

    @Test("a text is taken for a response exactly when the decoder takes it for a valid response with an id")
    func responsesAgreeWithDecoder() {
        for text in Self.messages + Self.seeds {
            #expect(Self.responseDisagreement(on: text) == nil)
        }
    }

    @Test("a response whose envelope or error members repeat is left to the parser, which normalises it", arguments: [
        #"{"jsonrpc":"2.0","result":1,"result":2,"id":1}"#, #"{"jsonrpc":"2.0","result":1,"id":2,"id":1}"#,
        #"{"jsonrpc":"2.0","error":{"code":1,"code":2,"message":"m"},"id":1}"#,
    ])
    func duplicateResponses(text: String) {
        #expect(JSONRPCEnvelope.response(in: text, maxDepth: JSONValue.defaultMaxNestingDepth) == nil)
        guard case .single(.success(.response)) = JSONRPCDecoder.decode(text) else {
            Issue.record("the decoder should accept \(text)")
            return
        }
    }

    @Test("a call is recognised from the few bytes before its method, whatever follows")
    func callsStopEarly() {
        // Invalid after `method`, so only a scan that stopped there can return without an error.
        let text = #"{"jsonrpc":"2.0","method":"run","params":[ this is not JSON"#
        #expect(JSONRPCEnvelope.response(in: text, maxDepth: JSONValue.defaultMaxNestingDepth) == nil)
        #expect(throws: JSONParseError.self) { try JSONRPCEnvelope.scan(text) }
    }

    // MARK: Speed

    @Test("a 4 MB fetch_module reply is scanned much faster than it is parsed (figures printed, not asserted)")
    func speed() throws {
        let text = FetchReplyFixture.reply()
        let clock = ContinuousClock()
        var envelope: JSONRPCEnvelope?
        var value: JSONValue?
        // Best of three, to be less at the mercy of other work on the machine.
        let scanning = (0..<3).map { _ in clock.measure { envelope = try? JSONRPCEnvelope.scan(text) } }.min()!
        let parsing = (0..<3).map { _ in clock.measure { value = try? JSONValue.parse(text) } }.min()!
        #expect(envelope?.result != nil && value?["result"] != nil)
        let megabytes = Double(text.utf8.count) / 1_000_000
        print("JSONEnvelopeScanTests: \(megabytes) MB reply scanned in \(scanning), parsed in \(parsing) (debug build: see scripts/bench-envelope)")
    }
}
