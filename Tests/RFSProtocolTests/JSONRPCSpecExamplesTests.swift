import Testing
import RFSProtocol

/// Every example of the JSON-RPC 2.0 specification, §7 "Examples"
/// (https://www.jsonrpc.org/specification), sent as the spec writes it to a peer serving the
/// spec's methods. Each reply must equal the spec's reply text byte for byte once the spec's
/// insignificant whitespace is removed.
@Suite("JSON-RPC 2.0 specification examples")
struct JSONRPCSpecExamplesTests {
    /// A peer serving the methods the spec's examples call, with the notifications it handled.
    struct SpecServer {
        let wire: WirePeer
        let notifications: StreamReader<String>

        init() async {
            wire = WirePeer(label: "spec-server")
            let (handled, record) = AsyncStream.makeStream(of: String.self)
            notifications = StreamReader(handled)
            let peer = wire.peer
            await peer.register("subtract") { request in
                switch request.params {
                case .array(let operands)?:
                    guard operands.count == 2, let minuend = operands[0].intValue, let subtrahend = operands[1].intValue
                    else { throw JSONRPCError.invalidParams("expected [minuend, subtrahend]") }
                    return .int(minuend - subtrahend)
                case .object(let named)?:
                    guard let minuend = named["minuend"]?.intValue, let subtrahend = named["subtrahend"]?.intValue
                    else { throw JSONRPCError.invalidParams("expected {minuend, subtrahend}") }
                    return .int(minuend - subtrahend)
                default:
                    throw JSONRPCError.invalidParams("expected params")
                }
            }
            await peer.register("sum") { request in
                let terms = request.params?.arrayValue?.compactMap(\.intValue) ?? []
                return .int(terms.reduce(0, +))
            }
            await peer.register("get_data") { _ in ["hello", 5] }
            for method in ["update", "notify_hello", "notify_sum"] {
                await peer.registerNotification(method) { params in
                    record.yield("\(method) \(params?.serialized() ?? "-")")
                }
            }
        }

        /// Sends the spec's request text; returns our reply.
        func send(_ specText: String) async -> String? {
            await wire.exchange(specText)
        }

        /// Sends the spec's request text and checks no reply comes: a request sent right after
        /// it must get the very next reply.
        func sendExpectingNoReply(_ specText: String) async {
            await wire.peer.receive(specText)
            let probe = #"{"jsonrpc": "2.0", "method": "subtract", "params": [2, 1], "id": "probe"}"#
            #expect(await wire.exchange(probe) == #"{"jsonrpc":"2.0","result":1,"id":"probe"}"#)
        }
    }

    @Test("rpc call with positional parameters")
    func positionalParameters() async {
        let server = await SpecServer()
        #expect(await server.send(#"{"jsonrpc": "2.0", "method": "subtract", "params": [42, 23], "id": 1}"#)
            == compact(#"{"jsonrpc": "2.0", "result": 19, "id": 1}"#))
        #expect(await server.send(#"{"jsonrpc": "2.0", "method": "subtract", "params": [23, 42], "id": 2}"#)
            == compact(#"{"jsonrpc": "2.0", "result": -19, "id": 2}"#))
    }

    @Test("rpc call with named parameters")
    func namedParameters() async {
        let server = await SpecServer()
        #expect(await server.send(#"{"jsonrpc": "2.0", "method": "subtract", "params": {"subtrahend": 23, "minuend": 42}, "id": 3}"#)
            == compact(#"{"jsonrpc": "2.0", "result": 19, "id": 3}"#))
        #expect(await server.send(#"{"jsonrpc": "2.0", "method": "subtract", "params": {"minuend": 42, "subtrahend": 23}, "id": 4}"#)
            == compact(#"{"jsonrpc": "2.0", "result": 19, "id": 4}"#))
    }

    @Test("a Notification gets no reply, even for a method nobody handles")
    func notification() async {
        let server = await SpecServer()
        await server.sendExpectingNoReply(#"{"jsonrpc": "2.0", "method": "update", "params": [1,2,3,4,5]}"#)
        await server.sendExpectingNoReply(#"{"jsonrpc": "2.0", "method": "foobar"}"#)
        #expect(await server.notifications.next() == "update [1,2,3,4,5]")
    }

    @Test("rpc call of non-existent method")
    func nonExistentMethod() async {
        let server = await SpecServer()
        #expect(await server.send(#"{"jsonrpc": "2.0", "method": "foobar", "id": "1"}"#)
            == compact(#"{"jsonrpc": "2.0", "error": {"code": -32601, "message": "Method not found"}, "id": "1"}"#))
    }

    @Test("rpc call with invalid JSON")
    func invalidJSON() async {
        let server = await SpecServer()
        #expect(await server.send(#"{"jsonrpc": "2.0", "method": "foobar, "params": "bar", "baz]"#)
            == compact(#"{"jsonrpc": "2.0", "error": {"code": -32700, "message": "Parse error"}, "id": null}"#))
    }

    @Test("rpc call with invalid Request object")
    func invalidRequestObject() async {
        let server = await SpecServer()
        #expect(await server.send(#"{"jsonrpc": "2.0", "method": 1, "params": "bar"}"#)
            == compact(#"{"jsonrpc": "2.0", "error": {"code": -32600, "message": "Invalid Request"}, "id": null}"#))
    }

    @Test("rpc call Batch, invalid JSON")
    func batchInvalidJSON() async {
        let server = await SpecServer()
        let request = #"""
            [
              {"jsonrpc": "2.0", "method": "sum", "params": [1,2,4], "id": "1"},
              {"jsonrpc": "2.0", "method"
            ]
            """#
        #expect(await server.send(request)
            == compact(#"{"jsonrpc": "2.0", "error": {"code": -32700, "message": "Parse error"}, "id": null}"#))
    }

    @Test("rpc call with an empty Array")
    func emptyArray() async {
        let server = await SpecServer()
        #expect(await server.send("[]")
            == compact(#"{"jsonrpc": "2.0", "error": {"code": -32600, "message": "Invalid Request"}, "id": null}"#))
    }

    @Test("rpc call with an invalid Batch (but not empty)")
    func invalidBatchOfOne() async {
        let server = await SpecServer()
        let reply = #"""
            [
              {"jsonrpc": "2.0", "error": {"code": -32600, "message": "Invalid Request"}, "id": null}
            ]
            """#
        #expect(await server.send("[1]") == compact(reply))
    }

    @Test("rpc call with invalid Batch")
    func invalidBatch() async {
        let server = await SpecServer()
        let reply = #"""
            [
              {"jsonrpc": "2.0", "error": {"code": -32600, "message": "Invalid Request"}, "id": null},
              {"jsonrpc": "2.0", "error": {"code": -32600, "message": "Invalid Request"}, "id": null},
              {"jsonrpc": "2.0", "error": {"code": -32600, "message": "Invalid Request"}, "id": null}
            ]
            """#
        #expect(await server.send("[1,2,3]") == compact(reply))
    }

    @Test("rpc call Batch: replies in request order, none for the notification")
    func batch() async {
        let server = await SpecServer()
        let request = #"""
            [
                {"jsonrpc": "2.0", "method": "sum", "params": [1,2,4], "id": "1"},
                {"jsonrpc": "2.0", "method": "notify_hello", "params": [7]},
                {"jsonrpc": "2.0", "method": "subtract", "params": [42,23], "id": "2"},
                {"foo": "boo"},
                {"jsonrpc": "2.0", "method": "foo.get", "params": {"name": "myself"}, "id": "5"},
                {"jsonrpc": "2.0", "method": "get_data", "id": "9"}
            ]
            """#
        let reply = #"""
            [
                {"jsonrpc": "2.0", "result": 7, "id": "1"},
                {"jsonrpc": "2.0", "result": 19, "id": "2"},
                {"jsonrpc": "2.0", "error": {"code": -32600, "message": "Invalid Request"}, "id": null},
                {"jsonrpc": "2.0", "error": {"code": -32601, "message": "Method not found"}, "id": "5"},
                {"jsonrpc": "2.0", "result": ["hello", 5], "id": "9"}
            ]
            """#
        #expect(await server.send(request) == compact(reply))
        #expect(await server.notifications.next() == "notify_hello [7]")
    }

    @Test("rpc call Batch (all notifications): nothing is returned")
    func batchOfNotifications() async {
        let server = await SpecServer()
        let request = #"""
            [
                {"jsonrpc": "2.0", "method": "notify_sum", "params": [1,2,4]},
                {"jsonrpc": "2.0", "method": "notify_hello", "params": [7]}
            ]
            """#
        await server.sendExpectingNoReply(request)
        #expect(await server.notifications.next() == "notify_sum [1,2,4]")
        #expect(await server.notifications.next() == "notify_hello [7]")
    }

    @Test("with detailed protocol errors, the same replies also say why in data")
    func detailedErrors() async {
        let wire = WirePeer(configuration: .init(detailedProtocolErrors: true))
        #expect(await wire.exchange(#"{"jsonrpc": "2.0", "method": 1, "params": "bar"}"#)
            == #"{"jsonrpc":"2.0","error":{"code":-32600,"message":"Invalid Request","data":"method must be a string, got number"},"id":null}"#)
        #expect(await wire.exchange(#"{"jsonrpc": "2.0", "method": "foobar", "id": "1"}"#)
            == #"{"jsonrpc":"2.0","error":{"code":-32601,"message":"Method not found","data":"foobar"},"id":"1"}"#)
        #expect(await wire.exchange("[")
            == #"{"jsonrpc":"2.0","error":{"code":-32700,"message":"Parse error","data":"invalid JSON at byte 1: unexpected end of input"},"id":null}"#)
    }
}
