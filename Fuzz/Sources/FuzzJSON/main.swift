import CLibFuzzer
import FuzzSupport
@testable import RFSProtocol

// Fuzz target `json`: the JSON parser (`JSONParser` over `JSONLexer`) and the validating scanner
// (`JSONScanner`) on arbitrary bytes. Beyond "no crash", for every input:
//
// - the scanner and the parser agree: both accept, or both throw the same `JSONParseError`
//   (same reason, same offset), at the default nesting limit and at a small one;
// - a value that parses serialises (`JSONWriter`) to text that parses back to an equal value,
//   and serialising that gives the same text again (the writer is canonical);
// - the member ranges the scanner reports for a top-level object parse, on their own, to the
//   members the parser kept (the last of repeated keys).
//
// Bytes go in raw, invalid UTF-8 included: the transport validates UTF-8 before the parser
// sees a message, but the parser must not depend on that for its memory safety.

/// The envelope members the scanner is asked to locate, as the JSON-RPC layer does.
let locatedNames: [StaticString] = ["jsonrpc", "id", "method", "result", "error"]

func checkJSON(_ bytes: UnsafeBufferPointer<UInt8>, maxDepth: Int) {
    let parsed = Result { () throws(JSONParseError) -> JSONValue in try JSONParser.parse(bytes: bytes, maxDepth: maxDepth) }
    let scanned = Result { () throws(JSONParseError) -> JSONScanner.Outcome in
        try JSONScanner.scan(bytes, maxDepth: maxDepth, locating: locatedNames)
    }
    switch (parsed, scanned) {
    case (.failure(let parseError), .failure(let scanError)):
        require(parseError == scanError, "parser threw \(parseError) but scanner threw \(scanError)")
    case (.failure(let parseError), .success):
        fail("parser threw \(parseError) but the scanner accepted the text")
    case (.success(let value), .failure(let scanError)):
        fail("parser accepted the text (\(value.serialized().prefix(200))) but the scanner threw \(scanError)")
    case (.success(let value), .success(let outcome)):
        checkRoundTrip(value, maxDepth: maxDepth)
        checkMemberRanges(value, outcome, bytes: bytes, maxDepth: maxDepth)
    }
}

/// `parse(serialized(v)) == v` for values without infinities (JSON has none: the writer emits
/// `null` for them, documented), and the second serialisation is byte-identical to the first.
func checkRoundTrip(_ value: JSONValue, maxDepth: Int) {
    guard value.isFinite else { return }
    let text = value.serialized()
    let again: JSONValue
    do {
        again = try JSONValue.parse(text, maxDepth: maxDepth)
    } catch {
        fail("serialised value does not parse: \(error)\ntext: \(text.prefix(500))")
    }
    require(again == value, "round trip changed the value:\n  before: \(text.prefix(500))\n  after:  \(again.serialized().prefix(500))")
    require(again.serialized() == text, "serialising twice gave different texts")
}

func checkMemberRanges(_ value: JSONValue, _ outcome: JSONScanner.Outcome, bytes: UnsafeBufferPointer<UInt8>, maxDepth: Int) {
    guard case .object(let members) = value else {
        require(!outcome.topLevelIsObject, "scanner says the top level is an object, parser built \(value.typeName)")
        return
    }
    require(outcome.topLevelIsObject, "parser built an object, scanner says the top level is not one")
    for (slot, name) in locatedNames.enumerated() {
        let key = name.withUTF8Buffer { String(decoding: $0, as: UTF8.self) }
        guard let range = outcome.members[slot] else {
            require(members[key] == nil, "scanner did not locate member '\(key)' that the parser kept")
            continue
        }
        require(range.lowerBound >= 0 && range.upperBound <= bytes.count, "range of '\(key)' \(range) is outside the text")
        let slice = UnsafeBufferPointer(rebasing: bytes[range])
        let member = try? JSONParser.parse(bytes: slice, maxDepth: maxDepth)
        require(member != nil && member == members[key], "range \(range) of '\(key)' does not hold the member the parser kept")
    }
}

/// One input, called by libFuzzer's driver.
@_cdecl("LLVMFuzzerTestOneInput")
func fuzzOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = UnsafeBufferPointer(start: size == 0 ? nil : data, count: size)
    checkJSON(bytes, maxDepth: JSONValue.defaultMaxNestingDepth)
    checkJSON(bytes, maxDepth: 3)
    return 0
}

// Last: the driver never returns, and the globals above must be initialised first.
RFSFuzzMain(CommandLine.argc, CommandLine.unsafeArgv)
