import CLibFuzzer
import FuzzSupport
@testable import RFSProtocol

// Fuzz target `jsonrpc`: the JSON-RPC decoder (`JSONRPCDecoder`) and the forwarder's envelope
// scan (`JSONRPCEnvelope`) on arbitrary text. Beyond "no crash", for every input:
//
// - the envelope scan accepts exactly the texts the decoder can parse, with the same error;
// - every valid message, re-encoded (`JSONRPCEncoder`) alone or as a batch, decodes again to
//   the same classification (request, notification or response with the same id, method and
//   result-or-error; the same message entirely when it holds no infinities);
// - the envelope's verbatim-response detection (`JSONRPCEnvelope.response`, which lets the
//   worker forward a `fetch_module` reply without parsing it) agrees with the full decoder: what
//   it accepts the decoder accepts as the same response, and it accepts every single valid
//   response with an id unless a member it must read is repeated (those are normalised by a
//   parse instead, by design).
//
// Input is decoded as UTF-8 with replacement, as the WebSocket layer hands the peer only valid
// text.

let maxDepth = JSONValue.defaultMaxNestingDepth

func checkMessage(_ text: String) {
    let inbound = JSONRPCDecoder.decode(text, maxDepth: maxDepth)
    let envelope = Result { () throws(JSONParseError) -> JSONRPCEnvelope in try JSONRPCEnvelope.scan(text, maxDepth: maxDepth) }
    switch (inbound, envelope) {
    case (.unparseable(let decodeError), .failure(let scanError)):
        require(decodeError == scanError, "decoder failed with \(decodeError), envelope scan with \(scanError)")
    case (.unparseable(let decodeError), .success):
        fail("decoder failed with \(decodeError) but the envelope scan accepted the text")
    case (_, .failure(let scanError)):
        fail("decoder parsed the text but the envelope scan failed with \(scanError)")
    case (_, .success):
        break
    }

    switch inbound {
    case .single(.success(let message)):
        checkReencoding([message], asBatch: false)
    case .batch(let items):
        let valid = items.compactMap { try? $0.get() }
        if !valid.isEmpty { checkReencoding(valid, asBatch: true) }
    case .single(.failure), .unparseable, .emptyBatch:
        break
    }
    checkVerbatimDetection(text, inbound: inbound, envelope: try? envelope.get())
}

/// Encoding valid messages and decoding the text gives the same messages back.
func checkReencoding(_ messages: [JSONRPCMessage], asBatch: Bool) {
    let text = asBatch ? JSONRPCEncoder.encodeBatch(messages) : JSONRPCEncoder.encode(messages[0])
    let decoded: [JSONRPCInboundItem]
    switch JSONRPCDecoder.decode(text, maxDepth: maxDepth) {
    case .single(let item) where !asBatch: decoded = [item]
    case .batch(let items) where asBatch: decoded = items
    case let other: fail("re-encoded \(asBatch ? "batch" : "message") decoded as \(other)\ntext: \(text.prefix(500))")
    }
    require(decoded.count == messages.count, "re-encoded batch of \(messages.count) decoded to \(decoded.count)")
    for (original, item) in zip(messages, decoded) {
        guard case .success(let again) = item else {
            fail("re-encoded message is invalid: \(item)\ntext: \(JSONRPCEncoder.encode(original).prefix(500))")
        }
        require(Classification(original) == Classification(again), "re-encoding changed \(Classification(original)) into \(Classification(again))")
        if isFinite(original) {
            require(original == again, "re-encoding changed the message\ntext: \(JSONRPCEncoder.encode(original).prefix(500))")
        }
        if case .response(let response) = original, let id = response.id {
            // The encoder's own text has no repeated members: the envelope must recognise it.
            let encoded = JSONRPCEncoder.encode(original)
            let detected = JSONRPCEnvelope.response(in: encoded, maxDepth: maxDepth)
            require(
                detected == JSONRPCEnvelope.Response(id: id, isError: response.error != nil),
                "envelope saw \(String(describing: detected)) in the encoder's response \(encoded.prefix(300))")
        }
    }
}

/// `JSONRPCEnvelope.response` against the decoder on the original text.
func checkVerbatimDetection(_ text: String, inbound: JSONRPCInbound, envelope: JSONRPCEnvelope?) {
    let detected = JSONRPCEnvelope.response(in: text, maxDepth: maxDepth)
    var decodedResponse: JSONRPCResponse?
    if case .single(.success(.response(let response))) = inbound { decodedResponse = response }

    if let detected {
        guard let response = decodedResponse else {
            fail("envelope took the text for a response to \(detected.id) but the decoder says \(inbound)")
        }
        require(response.id == detected.id, "envelope read id \(detected.id), decoder \(String(describing: response.id))")
        require(detected.isError == (response.error != nil), "envelope and decoder disagree on result vs error")
        return
    }
    // Not detected: fine unless the decoder saw a response with an id and nothing is repeated.
    guard let response = decodedResponse, response.id != nil, let envelope else { return }
    if envelope.hasDuplicateMembers { return }
    if response.error != nil, let errorRange = envelope.error, errorMembersRepeat(text, errorRange) { return }
    fail("decoder accepted a response to \(response.id!) without repeated members but the envelope missed it")
}

/// Whether the error object at `range` repeats `code` or `message` (the envelope then declines).
func errorMembersRepeat(_ text: String, _ range: Range<Int>) -> Bool {
    var text = text
    return text.withUTF8 { bytes in
        let outcome = try? JSONScanner.scan(
            UnsafeBufferPointer(rebasing: bytes[range]), maxDepth: maxDepth, locating: ["code", "message"])
        return outcome?.members.hasDuplicates ?? false
    }
}

/// What the peer acts on: the kind of message, its id and method, and result versus error.
struct Classification: Equatable, CustomStringConvertible {
    var kind: String
    var id: JSONRPCID?
    var method: String?
    var errorCode: Int?

    init(_ message: JSONRPCMessage) {
        switch message {
        case .request(let request): self.init(kind: "request", id: request.id, method: request.method)
        case .notification(let notification): self.init(kind: "notification", method: notification.method)
        case .response(let response):
            self.init(kind: response.error == nil ? "result" : "error", id: response.id, errorCode: response.error?.code)
        }
    }

    init(kind: String, id: JSONRPCID? = nil, method: String? = nil, errorCode: Int? = nil) {
        self.kind = kind
        self.id = id
        self.method = method
        self.errorCode = errorCode
    }

    var description: String {
        "\(kind) id=\(id.map(String.init(describing:)) ?? "none") method=\(method ?? "none") code=\(errorCode.map(String.init) ?? "none")"
    }
}

func isFinite(_ message: JSONRPCMessage) -> Bool {
    switch message {
    case .request(let request): return request.params?.isFinite ?? true
    case .notification(let notification): return notification.params?.isFinite ?? true
    case .response(let response):
        switch response.outcome {
        case .success(let result): return result.isFinite
        case .failure(let error): return error.data?.isFinite ?? true
        }
    }
}

/// One input, called by libFuzzer's driver.
@_cdecl("LLVMFuzzerTestOneInput")
func fuzzOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let text = String(decoding: UnsafeBufferPointer(start: size == 0 ? nil : data, count: size), as: UTF8.self)
    checkMessage(text)
    return 0
}

// Last: the driver never returns, and the globals above must be initialised first.
RFSFuzzMain(CommandLine.argc, CommandLine.unsafeArgv)
