import Testing
@testable import RFSProtocol

@Suite("JSON serialization")
struct JSONSerializationTests {
    @Test("output is compact with object keys sorted, so equal values give equal text")
    func compactAndSorted() {
        let value: JSONValue = ["b": 1, "a": [true, nil, "x"], "c": ["z": 1, "y": [:]]]
        #expect(value.serialized() == #"{"a":[true,null,"x"],"b":1,"c":{"y":{},"z":1}}"#)
    }

    @Test("keys sort by code point (UTF-8 byte order), like Python's sort_keys")
    func keyOrder() {
        let value: JSONValue = ["é": 1, "z": 2, "Z": 3, "a": 4, "😀": 5, "": 6]
        #expect(value.serialized() == #"{"":6,"Z":3,"a":4,"z":2,"é":1,"😀":5}"#)
    }

    @Test("strings escape only quote, backslash and control characters")
    func stringEscaping() {
        let value: JSONValue = .string("quote\" backslash\\ slash/ nl\n cr\r tab\t bs\u{08} ff\u{0C} nul\u{0} us\u{1F} del\u{7F} é 😀")
        #expect(value.serialized()
            == #""quote\" backslash\\ slash/ nl\n cr\r tab\t bs\b ff\f nul\u0000 us\u001f del\#u{7F} é 😀""#)
    }

    @Test("numbers: integers exactly, doubles in shortest round-trip form, non-finite as null")
    func numbers() {
        #expect(JSONValue.int(.max).serialized() == "9223372036854775807")
        #expect(JSONValue.int(.min).serialized() == "-9223372036854775808")
        #expect(JSONValue.double(1.5).serialized() == "1.5")
        #expect(JSONValue.double(100).serialized() == "100.0")
        #expect(JSONValue.double(0.1).serialized() == "0.1")
        #expect(JSONValue.double(1e21).serialized() == "1e+21")
        #expect(JSONValue.double(-2.5e-8).serialized() == "-2.5e-08")
        #expect(JSONValue.double(.infinity).serialized() == "null")
        #expect(JSONValue.double(.nan).serialized() == "null")
    }

    @Test("serialized text parses back to an equal value")
    func roundTrip() throws {
        let value: JSONValue = [
            "name": "pkg.sub", "is_package": false, "origin": "/home/u/src/pkg/sub.py",
            "submodule_search_locations": nil, "numbers": [0, -1, 1.5, 1e300, .int(.min)],
            "source": "# -*- coding: utf-8 -*-\nprint(\"héllo\\n\", '\\t')\r\n\u{1}😀\n",
            "nested": [[[["deep": [[]]]]]],
        ]
        let text = value.serialized()
        #expect(try JSONValue.parse(text) == value)
        #expect(try JSONValue.parse(text).serialized() == text)
    }

    @Test(
        "canonical texts survive parse → serialize unchanged",
        arguments: [
            "null", "true", "[]", "{}", "-0", "[1,2.5,\"x\"]", #"{"a":{"b":[null,false]}}"#,
            #""\u0001\"\\""#, "1e+100", "1.7976931348623157e+308", "5e-324",
        ])
    func canonicalTexts(text: String) throws {
        #expect(try JSONValue.parse(text).serialized() == (text == "-0" ? "0" : text))
    }

    @Test("description is the serialized text")
    func description() {
        let value: JSONValue = ["k": [1, "v"]]
        #expect(value.description == #"{"k":[1,"v"]}"#)
    }
}

@Suite("JSONValue API")
struct JSONValueAPITests {
    @Test("literals build the matching cases")
    func literals() {
        let value: JSONValue = ["n": nil, "b": true, "i": 3, "d": 2.5, "s": "x", "a": [1], "o": ["k": "v"]]
        #expect(value == .object([
            "n": .null, "b": .bool(true), "i": .int(3), "d": .double(2.5), "s": .string("x"),
            "a": .array([.int(1)]), "o": .object(["k": .string("v")]),
        ]))
    }

    @Test("a repeated key in a dictionary literal keeps the last value")
    func duplicateLiteralKeys() {
        let value: JSONValue = ["k": 1, "k": 2]
        #expect(value == ["k": 2])
    }

    @Test("accessors return the payload of their own case only")
    func accessors() {
        let value: JSONValue = ["s": "x", "i": 3, "d": 2.5, "b": false, "a": [1, 2], "o": [:], "n": nil]
        #expect(value["s"]?.stringValue == "x")
        #expect(value["i"]?.intValue == 3)
        #expect(value["i"]?.doubleValue == 3.0)
        #expect(value["d"]?.doubleValue == 2.5)
        #expect(value["d"]?.intValue == nil)
        #expect(value["b"]?.boolValue == false)
        #expect(value["a"]?.arrayValue == [1, 2])
        #expect(value["a"]?[1] == 2)
        #expect(value["a"]?[5] == nil)
        #expect(value["a"]?[-1] == nil)
        #expect(value["o"]?.objectValue == [:])
        #expect(value["n"]?.isNull == true)
        #expect(value["missing"] == nil)
        #expect(value["s"]?["k"] == nil)
        #expect(value["s"]?.intValue == nil)
    }

    @Test("1 and 1.0 are different values, as they are different texts")
    func intAndDoubleDiffer() {
        #expect(JSONValue.int(1) != JSONValue.double(1))
    }
}
