import Testing
import RFSProtocol

/// What the decoder accepts and refuses, rule by rule of the JSON-RPC 2.0 spec.
@Suite("JSON-RPC decoding and strictness")
struct JSONRPCDecoderTests {
    private func decode(_ text: String) -> JSONRPCInboundItem? {
        guard case .single(let item) = JSONRPCDecoder.decode(text) else { return nil }
        return item
    }

    private func invalid(_ text: String) -> JSONRPCInvalidMessage? {
        guard case .failure(let invalid)? = decode(text) else { return nil }
        return invalid
    }

    // MARK: Valid messages

    @Test("a request with positional, named or no params")
    func requests() {
        #expect(decode(#"{"jsonrpc":"2.0","method":"m","params":[1],"id":1}"#)
            == .success(.request(JSONRPCRequest(id: 1, method: "m", params: [1]))))
        #expect(decode(#"{"jsonrpc":"2.0","method":"m","params":{"a":1},"id":"x"}"#)
            == .success(.request(JSONRPCRequest(id: "x", method: "m", params: ["a": 1]))))
        #expect(decode(#"{"id":2,"method":"m","jsonrpc":"2.0"}"#)
            == .success(.request(JSONRPCRequest(id: 2, method: "m"))))
    }

    @Test("a call without id is a notification")
    func notifications() {
        #expect(decode(#"{"jsonrpc":"2.0","method":"output","params":{"stream":"stdout","text":"hi"}}"#)
            == .success(.notification(JSONRPCNotification(method: "output", params: ["stream": "stdout", "text": "hi"]))))
    }

    @Test("responses: result, error with data, and error with id null")
    func responses() {
        #expect(decode(#"{"jsonrpc":"2.0","result":null,"id":3}"#)
            == .success(.response(JSONRPCResponse(id: 3, result: nil))))
        #expect(decode(#"{"jsonrpc":"2.0","error":{"code":-32602,"message":"Invalid params","data":{"k":1}},"id":"a"}"#)
            == .success(.response(JSONRPCResponse(id: "a", error: JSONRPCError(code: -32602, message: "Invalid params", data: ["k": 1])))))
        #expect(decode(#"{"jsonrpc":"2.0","error":{"code":-32700,"message":"Parse error"},"id":null}"#)
            == .success(.response(JSONRPCResponse(id: nil, error: .parseError()))))
    }

    @Test("an integral number id written as 7.0 is the id 7")
    func integralDoubleID() {
        #expect(decode(#"{"jsonrpc":"2.0","method":"m","id":7.0}"#)
            == .success(.request(JSONRPCRequest(id: 7, method: "m"))))
    }

    @Test("members the spec does not define are ignored")
    func extraMembers() {
        #expect(decode(#"{"jsonrpc":"2.0","method":"m","id":1,"trace":"abc"}"#)
            == .success(.request(JSONRPCRequest(id: 1, method: "m"))))
    }

    // MARK: Invalid calls

    @Test(
        "jsonrpc must be exactly \"2.0\"",
        arguments: [
            #"{"jsonrpc":"1.0","method":"m","id":1}"#, #"{"method":"m","id":1}"#,
            #"{"jsonrpc":2.0,"method":"m","id":1}"#, #"{"jsonrpc":"2.0 ","method":"m","id":1}"#,
            #"{"jsonrpc":"2","method":"m","id":1}"#, #"{"jsonrpc":null,"method":"m","id":1}"#,
        ])
    func version(text: String) {
        let problem = invalid(text)
        #expect(problem?.reason.contains(#"jsonrpc"#) == true)
        // The id was readable, so the error reply goes to it and the caller is not left waiting.
        #expect(problem?.requestID == 1)
    }

    @Test(
        "method must be a string",
        arguments: [
            #"{"jsonrpc":"2.0","method":1,"id":1}"#, #"{"jsonrpc":"2.0","method":null,"id":1}"#,
            #"{"jsonrpc":"2.0","method":["m"],"id":1}"#, #"{"jsonrpc":"2.0","method":{"n":"m"},"id":1}"#,
        ])
    func nonStringMethod(text: String) {
        #expect(invalid(text)?.reason.hasPrefix("method must be a string") == true)
    }

    @Test("a message without method, result or error is invalid, and its id is not echoed")
    func missingMethod() {
        let problem = invalid(#"{"jsonrpc":"2.0","params":[1],"id":1}"#)
        #expect(problem?.reason == "not a request or a response: no method, result or error member")
        #expect(problem?.requestID == nil)
    }

    @Test(
        "params, when present, must be an object or an array",
        arguments: ["\"bar\"", "1", "null", "true"])
    func params(params: String) {
        let problem = invalid(#"{"jsonrpc":"2.0","method":"m","params":\#(params),"id":1}"#)
        #expect(problem?.reason.hasPrefix("params must be an object or an array") == true)
        #expect(problem?.requestID == 1)
    }

    @Test(
        "a request id must be a string or an integer",
        arguments: ["{}", "[1]", "true", "null", "1.5", "1e300"])
    func requestID(id: String) {
        let problem = invalid(#"{"jsonrpc":"2.0","method":"m","id":\#(id)}"#)
        #expect(problem?.reason.hasPrefix("id must be a string or an integer") == true)
        #expect(problem?.requestID == nil)
    }

    @Test("a call must not carry result or error")
    func callWithResult() {
        #expect(invalid(#"{"jsonrpc":"2.0","method":"m","result":1,"id":1}"#) != nil)
        #expect(invalid(#"{"jsonrpc":"2.0","method":"m","error":{"code":1,"message":"x"},"id":1}"#) != nil)
    }

    @Test("a message must be an object", arguments: ["1", "\"x\"", "null", "true"])
    func nonObject(text: String) {
        #expect(invalid(text)?.reason.hasPrefix("a message must be an object") == true)
    }

    // MARK: Invalid responses

    @Test("a response has exactly one of result and error; its id is reported, not echoed")
    func resultAndError() {
        let problem = invalid(#"{"jsonrpc":"2.0","result":1,"error":{"code":1,"message":"x"},"id":4}"#)
        #expect(problem?.reason == "a response must have exactly one of result and error")
        #expect(problem?.responseID == 4)
        #expect(problem?.requestID == nil)
    }

    @Test("a response must have an id; only an error response may have id null")
    func responseIDs() {
        #expect(invalid(#"{"jsonrpc":"2.0","result":1}"#)?.reason == "a response must have an id member")
        #expect(invalid(#"{"jsonrpc":"2.0","result":1,"id":null}"#) != nil)
        #expect(invalid(#"{"jsonrpc":"2.0","result":1,"id":{}}"#) != nil)
        #expect(invalid(#"{"jsonrpc":"2.0","error":{"code":1,"message":"x"},"id":[1]}"#) != nil)
    }

    @Test(
        "an error must be an object with an integer code and a string message",
        arguments: [
            #"{"code":"1","message":"x"}"#, #"{"code":1.5,"message":"x"}"#, #"{"code":1}"#,
            #"{"message":"x"}"#, #"{"code":1,"message":2}"#, "\"boom\"", "null",
        ])
    func errorObject(error: String) {
        let problem = invalid(#"{"jsonrpc":"2.0","error":\#(error),"id":1}"#)
        #expect(problem?.reason == "error must be an object with an integer code and a string message")
        #expect(problem?.responseID == 1)
    }

    @Test("a response with a wrong jsonrpc version is invalid")
    func responseVersion() {
        #expect(invalid(#"{"jsonrpc":"1.0","result":1,"id":1}"#)?.responseID == 1)
    }

    // MARK: Whole messages

    @Test("unparseable text, empty batch, and batches keep their element order")
    func wholeMessages() {
        guard case .unparseable(let error) = JSONRPCDecoder.decode("{") else {
            Issue.record("expected unparseable")
            return
        }
        #expect(error.reason == .unexpectedEndOfInput)
        #expect(JSONRPCDecoder.decode(" [ ] ") == .emptyBatch)
        #expect(JSONRPCDecoder.decode(#"[{"jsonrpc":"2.0","method":"a"},1]"#) == .batch([
            .success(.notification(JSONRPCNotification(method: "a"))),
            .failure(JSONRPCInvalidMessage(reason: "a message must be an object, got number")),
        ]))
    }

    @Test("an invalid message's reply is -32600 to its id (when readable), with the reason when asked")
    func invalidReply() {
        let problem = JSONRPCInvalidMessage(reason: "why", requestID: 9)
        #expect(problem.reply(includingDetail: false).serialized()
            == #"{"jsonrpc":"2.0","error":{"code":-32600,"message":"Invalid Request"},"id":9}"#)
        #expect(problem.reply(includingDetail: true).serialized()
            == #"{"jsonrpc":"2.0","error":{"code":-32600,"message":"Invalid Request","data":"why"},"id":9}"#)
    }

    // MARK: Ids

    @Test("ids read from JSON: strings and integral numbers only")
    func ids() {
        #expect(JSONRPCID(.string("a")) == .string("a"))
        #expect(JSONRPCID(.int(-3)) == .number(-3))
        #expect(JSONRPCID(.double(3)) == .number(3))
        #expect(JSONRPCID(.double(3.5)) == nil)
        #expect(JSONRPCID(.double(.infinity)) == nil)
        #expect(JSONRPCID(.double(1e30)) == nil)
        #expect(JSONRPCID(.null) == nil)
        #expect(JSONRPCID(.bool(true)) == nil)
        #expect(JSONRPCID.string("7").description == #""7""#)
        #expect(JSONRPCID.number(7).description == "7")
    }
}

@Suite("JSON-RPC encoding")
struct JSONRPCEncoderTests {
    @Test("requests and notifications: jsonrpc, method, params, id")
    func calls() {
        #expect(JSONRPCRequest(id: 1, method: "fetch_module", params: ["module_name": "pkg.sub"]).serialized()
            == #"{"jsonrpc":"2.0","method":"fetch_module","params":{"module_name":"pkg.sub"},"id":1}"#)
        #expect(JSONRPCRequest(id: "a", method: "m").serialized() == #"{"jsonrpc":"2.0","method":"m","id":"a"}"#)
        #expect(JSONRPCNotification(method: "output", params: ["text": "x\n", "stream": "stdout"]).serialized()
            == #"{"jsonrpc":"2.0","method":"output","params":{"stream":"stdout","text":"x\n"}}"#)
    }

    @Test("responses: jsonrpc, result or error (code, message, data), id")
    func responses() {
        #expect(JSONRPCResponse(id: 1, result: nil).serialized() == #"{"jsonrpc":"2.0","result":null,"id":1}"#)
        #expect(JSONRPCResponse(id: "x", error: .invalidParams("module_name must be a string")).serialized()
            == #"{"jsonrpc":"2.0","error":{"code":-32602,"message":"Invalid params","data":"module_name must be a string"},"id":"x"}"#)
        #expect(JSONRPCResponse(id: nil, error: .parseError()).serialized()
            == #"{"jsonrpc":"2.0","error":{"code":-32700,"message":"Parse error"},"id":null}"#)
        #expect(JSONRPCResponse(id: 2, error: .requestCancelled()).serialized()
            == #"{"jsonrpc":"2.0","error":{"code":-32800,"message":"Request cancelled"},"id":2}"#)
    }

    @Test("a batch is an array of messages in the given order")
    func batch() {
        let text = JSONRPCEncoder.encodeBatch([
            .request(JSONRPCRequest(id: 1, method: "a")),
            .notification(JSONRPCNotification(method: "b", params: [1])),
            .response(JSONRPCResponse(id: 5, result: true)),
        ])
        #expect(text == #"[{"jsonrpc":"2.0","method":"a","id":1},{"jsonrpc":"2.0","method":"b","params":[1]},{"jsonrpc":"2.0","result":true,"id":5}]"#)
    }

    @Test("every encoded message decodes to itself")
    func roundTrip() {
        let messages: [JSONRPCMessage] = [
            .request(JSONRPCRequest(id: .number(.max), method: "m", params: ["a": [1, 2.5, "é\n"]])),
            .request(JSONRPCRequest(id: "", method: "", params: [])),
            .notification(JSONRPCNotification(method: "$/cancelRequest", params: ["id": 3])),
            .response(JSONRPCResponse(id: "r", result: ["source": "print('hi')\n"])),
            .response(JSONRPCResponse(id: 4, error: JSONRPCError(code: 1, message: "custom", data: nil))),
            .response(JSONRPCResponse(id: nil, error: .invalidRequest())),
        ]
        for message in messages {
            #expect(JSONRPCDecoder.decode(message.serialized()) == .single(.success(message)))
        }
        #expect(JSONRPCDecoder.decode(JSONRPCEncoder.encodeBatch(messages)) == .batch(messages.map { .success($0) }))
    }

    @Test("the factories use the spec's messages and put the detail in data")
    func errorFactories() {
        #expect(JSONRPCError.parseError() == JSONRPCError(code: -32700, message: "Parse error"))
        #expect(JSONRPCError.invalidRequest() == JSONRPCError(code: -32600, message: "Invalid Request"))
        #expect(JSONRPCError.methodNotFound("x") == JSONRPCError(code: -32601, message: "Method not found", data: "x"))
        #expect(JSONRPCError.invalidParams("p") == JSONRPCError(code: -32602, message: "Invalid params", data: "p"))
        #expect(JSONRPCError.internalError() == JSONRPCError(code: -32603, message: "Internal error"))
        #expect(JSONRPCError.requestCancelled() == JSONRPCError(code: -32800, message: "Request cancelled"))
        #expect(JSONRPCError.invalidParams("p").description == "JSON-RPC error -32602: Invalid params (p)")
    }
}
