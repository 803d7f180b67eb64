import Synchronization
import Testing
@testable import RFSProtocol

/// `requestVerbatim` is for a caller that forwards a reply instead of reading it (the worker
/// daemon passing a client's `fetch_module` reply on to a run host): the reply comes back as
/// the text the other side sent, checked but never parsed into values, while everything else
/// about the call (timeouts, cancellation, closing, malformed replies) is as for `request`.
@Suite("JSON-RPC peer: verbatim replies")
struct JSONRPCVerbatimTests {
    static let fetchPkg = #"{"jsonrpc":"2.0","method":"fetch_module","params":{"module_name":"pkg"},"id":1}"#

    /// Starts `fetch_module` for `pkg` as a verbatim request and waits until it is on the wire.
    static func startFetch(
        on wire: WirePeer, timeout: Duration? = nil
    ) async -> Task<JSONRPCVerbatimReply, any Error> {
        let call = Task { try await wire.peer.requestVerbatim("fetch_module", params: ["module_name": "pkg"], timeout: timeout) }
        #expect(await wire.outbox.next() == fetchPkg)
        return call
    }

    /// Nothing is left behind once every call has its outcome.
    static func expectSettled(_ peer: JSONRPCPeer) async {
        #expect(await peer.pendingRequests.isEmpty)
        #expect(peer.verbatimRequestsPending.load(ordering: .relaxed) == 0)
    }

    // MARK: Replies

    @Test("a result reply is handed over byte for byte: whitespace, member order, escapes and number forms as sent")
    func resultReply() async throws {
        let wire = WirePeer()
        let call = await Self.startFetch(on: wire)
        let reply = " {\"id\" : 1.0,\n\t\"result\" : {\"source\":\"x = \\u0031\\n\", \"name\":\"pkg\", \"name\":\"kept as sent\", \"n\": 1E2} , \"jsonrpc\":\"2.0\" }\r\n"
        await wire.peer.receive(reply)
        #expect(try await call.value == JSONRPCVerbatimReply(text: reply, isError: false))
        await Self.expectSettled(wire.peer)
    }

    @Test("an error reply is handed over as it came, not thrown")
    func errorReply() async throws {
        let wire = WirePeer()
        let call = await Self.startFetch(on: wire)
        let reply = #"{"error": {"message": "Invalid params", "data": "module_name must be a string", "code": -32602}, "jsonrpc": "2.0", "id": 1}"#
        await wire.peer.receive(reply)
        #expect(try await call.value == JSONRPCVerbatimReply(text: reply, isError: true))
        await Self.expectSettled(wire.peer)
    }

    @Test("between two peers the caller gets exactly the message the other side's handler produced")
    func throughPeers() async throws {
        let wire = WireLog()
        let (worker, client) = JSONRPCPeer.makePair(leftLabel: "worker", rightLabel: "client", observe: wire.observer)
        await client.register("fetch_module") { request in
            ["name": request.params?["module_name"] ?? nil, "source": "print('héllo')\n", "is_package": false]
        }
        await client.register("fail") { _ in throw JSONRPCError.invalidParams("no such module") }
        let found = try await worker.requestVerbatim("fetch_module", params: ["module_name": "pkg"])
        let refused = try await worker.requestVerbatim("fail")
        let sent = wire.all.filter { $0.sender == "client" }.map(\.text)
        #expect(sent == [found.text, refused.text])
        #expect(found.text == #"{"jsonrpc":"2.0","result":{"is_package":false,"name":"pkg","source":"print('héllo')\n"},"id":1}"#)
        #expect(!found.isError && refused.isError)
        await worker.close(reason: "test over")
    }

    @Test("a 4 MB fetch_module reply crosses a pair of peers as the same text")
    func largeReply() async throws {
        let text = FetchReplyFixture.reply(id: 1)
        let result = try JSONValue.parse(text)["result"] ?? nil
        let (worker, client) = JSONRPCPeer.makePair(leftLabel: "worker", rightLabel: "client")
        await client.register("fetch_module") { _ in result }
        let reply = try await worker.requestVerbatim("fetch_module", params: ["module_name": "pkg"])
        #expect(reply.text == text)
        await worker.close(reason: "test over")
    }

    @Test("a reply inside a batch is handed over re-encoded, since it has no text of its own; its neighbours are served as usual")
    func replyInBatch() async throws {
        let wire = WirePeer()
        let verbatim = await Self.startFetch(on: wire)
        let ordinary = Task { try await wire.peer.request("add", params: [2, 3]) }
        #expect(await wire.outbox.next() == #"{"jsonrpc":"2.0","method":"add","params":[2,3],"id":2}"#)
        await wire.peer.receive(#"[{"jsonrpc":"2.0","id":2,"result":5}, {"result": {"b": [1, 2], "a": "\u00e9"}, "id": 1, "jsonrpc": "2.0"}]"#)
        #expect(try await verbatim.value == JSONRPCVerbatimReply(
            text: #"{"jsonrpc":"2.0","result":{"a":"é","b":[1,2]},"id":1}"#, isError: false))
        #expect(try await ordinary.value == 5)
        await Self.expectSettled(wire.peer)
    }

    @Test("a reply whose envelope members repeat is handed over normalised (the parser's reading: the last one)")
    func duplicateMembers() async throws {
        let wire = WirePeer()
        let call = await Self.startFetch(on: wire)
        await wire.peer.receive(#"{"jsonrpc":"2.0","id":1,"result":"first","result":"last"}"#)
        #expect(try await call.value == JSONRPCVerbatimReply(text: #"{"jsonrpc":"2.0","result":"last","id":1}"#, isError: false))
    }

    // MARK: Malformed replies

    @Test(
        "a malformed reply fails the verbatim request at once, as for request, and is answered -32600 with id null",
        arguments: [
            (#"{"jsonrpc":"2.0","result":{},"error":{"code":1,"message":"m"},"id":1}"#, "a response must have exactly one of result and error"),
            (#"{"jsonrpc":"1.0","result":{},"id":1}"#, #"jsonrpc must be "2.0", got "1.0""#),
            (#"{"jsonrpc":"2.0","error":{"code":"E1","message":"m"},"id":1}"#, "error must be an object with an integer code and a string message"),
        ])
    func malformedReply(reply: String, reason: String) async {
        let wire = WirePeer()
        let call = await Self.startFetch(on: wire)
        await wire.peer.receive(reply)
        await #expect(throws: JSONRPCPeerError.malformedResponse(method: "fetch_module", reason: reason)) {
            try await call.value
        }
        #expect(await wire.outbox.next() == #"{"jsonrpc":"2.0","error":{"code":-32600,"message":"Invalid Request"},"id":null}"#)
        await Self.expectSettled(wire.peer)
    }

    @Test("text that is not JSON gets -32700 and the request keeps waiting for its reply, as for request")
    func unparseableReply() async throws {
        let wire = WirePeer()
        let call = await Self.startFetch(on: wire)
        #expect(await wire.exchange(#"{"jsonrpc":"2.0","result":"\uD800","id":1}"#)
            == #"{"jsonrpc":"2.0","error":{"code":-32700,"message":"Parse error"},"id":null}"#)
        await wire.peer.receive(#"{"jsonrpc":"2.0","result":null,"id":1}"#)
        #expect(try await call.value.text == #"{"jsonrpc":"2.0","result":null,"id":1}"#)
    }

    // MARK: Timeouts, cancellation, close, size

    @Test("a verbatim request times out like any request: $/cancelRequest goes out and the late reply is dropped")
    func timeout() async throws {
        let (left, _, wire, _, cancelled) = await JSONRPCPeerLifecycleTests.makeHangingPair()
        await #expect(throws: JSONRPCPeerError.timedOut(method: "hang", after: .milliseconds(50))) {
            try await left.requestVerbatim("hang", timeout: .milliseconds(50))
        }
        await cancelled.wait()
        #expect(wire.all.contains(.init(sender: "left", text: JSONRPCPeerLifecycleTests.cancelRequestOne)))
        _ = await wire.waitFor { $0 == .init(sender: "right", text: JSONRPCPeerLifecycleTests.cancelledReplyOne) }
        #expect(try await left.requestVerbatim("echo", params: [1]).text == #"{"jsonrpc":"2.0","result":[1],"id":2}"#)
        await Self.expectSettled(left)
        await left.close(reason: "test over")
    }

    @Test("cancelling the awaiting task throws CancellationError and cancels the other side's handler")
    func cancellation() async throws {
        let (left, _, wire, started, cancelled) = await JSONRPCPeerLifecycleTests.makeHangingPair()
        let call = Task { try await left.requestVerbatim("hang") }
        await started.wait()
        call.cancel()
        await #expect(throws: CancellationError.self) { try await call.value }
        await cancelled.wait()
        #expect(wire.all.contains(.init(sender: "left", text: JSONRPCPeerLifecycleTests.cancelRequestOne)))
        _ = await wire.waitFor { $0 == .init(sender: "right", text: JSONRPCPeerLifecycleTests.cancelledReplyOne) }
        await Self.expectSettled(left)
        await left.close(reason: "test over")
    }

    @Test("closing fails a verbatim request in flight with .closed, and later ones at once")
    func close() async throws {
        let (left, _, wire, started, _) = await JSONRPCPeerLifecycleTests.makeHangingPair()
        let call = Task { try await left.requestVerbatim("hang") }
        await started.wait()
        await left.close(reason: "shutting down")
        await #expect(throws: JSONRPCPeerError.closed(reason: "shutting down")) { try await call.value }
        let sentBefore = wire.all.count
        await #expect(throws: JSONRPCPeerError.closed(reason: "shutting down")) { try await left.requestVerbatim("echo") }
        #expect(wire.all.count == sentBefore)
        await Self.expectSettled(left)
    }

    @Test("a verbatim request over the size limit is refused before sending; an oversized reply is refused like any message")
    func sizeLimits() async throws {
        let wire = WirePeer(configuration: .init(maxMessageSize: 100))
        let big: JSONValue = ["module_name": .string(String(repeating: "x", count: 200))]
        let size = JSONRPCRequest(id: 1, method: "fetch_module", params: big).serialized().utf8.count
        await #expect(throws: JSONRPCPeerError.messageTooLarge(size: size, limit: 100)) {
            try await wire.peer.requestVerbatim("fetch_module", params: big)
        }
        let call = Task { try await wire.peer.requestVerbatim("fetch_module", params: ["module_name": "p"]) }
        _ = await wire.outbox.next()
        let oversized = #"{"jsonrpc":"2.0","result":""# + String(repeating: "x", count: 100) + #"","id":2}"#
        #expect(await wire.exchange(oversized) == #"{"jsonrpc":"2.0","error":{"code":-32600,"message":"Invalid Request"},"id":null}"#)
        await wire.peer.receive(#"{"jsonrpc":"2.0","result":"p","id":2}"#)
        #expect(try await call.value.text == #"{"jsonrpc":"2.0","result":"p","id":2}"#)
        await Self.expectSettled(wire.peer)
    }

    // MARK: Everything else is unchanged

    @Test("while a verbatim request is pending, calls, notifications, ordinary replies and bad input are handled as before")
    func otherTrafficUnchanged() async throws {
        let wire = WirePeer()
        let notified = Signal()
        await wire.peer.register("add") { request in .int(request.params?.arrayValue?.compactMap(\.intValue).reduce(0, +) ?? 0) }
        await wire.peer.registerNotification("output") { _ in await notified.fire() }
        let verbatim = await Self.startFetch(on: wire)
        let ordinary = Task { try await wire.peer.request("describe") }
        #expect(await wire.outbox.next() == #"{"jsonrpc":"2.0","method":"describe","id":2}"#)

        // A response to an ordinary request is parsed into values, not handed over as text.
        await wire.peer.receive(#"{"result": {"b": 1, "a": [true]}, "id": 2, "jsonrpc": "2.0"}"#)
        #expect(try await ordinary.value == ["a": [true], "b": 1])
        // Calls, with `method` anywhere among their members.
        #expect(await wire.exchange(#"{"jsonrpc":"2.0","method":"add","params":[1,2],"id":1}"#) == #"{"jsonrpc":"2.0","result":3,"id":1}"#)
        #expect(await wire.exchange(#"{"params":[4],"id":"r","method":"add","jsonrpc":"2.0"}"#) == #"{"jsonrpc":"2.0","result":4,"id":"r"}"#)
        await wire.peer.receive(#"{"jsonrpc":"2.0","method":"output","params":{"text":"hi"}}"#)
        await notified.wait()
        // A call carrying a result member, whose id is also our pending verbatim request's.
        #expect(await wire.exchange(#"{"jsonrpc":"2.0","result":1,"method":"add","id":1}"#)
            == #"{"jsonrpc":"2.0","error":{"code":-32600,"message":"Invalid Request"},"id":1}"#)
        #expect(await wire.exchange("}{") == #"{"jsonrpc":"2.0","error":{"code":-32700,"message":"Parse error"},"id":null}"#)
        #expect(await wire.exchange(#"[{"jsonrpc":"2.0","method":"add","params":[5],"id":9}]"#) == #"[{"jsonrpc":"2.0","result":5,"id":9}]"#)
        // Replies naming no pending request are dropped without an answer, as before.
        await wire.peer.receive(#"{"jsonrpc":"2.0","result":1,"id":999}"#)
        await wire.peer.receive(#"{"jsonrpc":"2.0","error":{"code":-32700,"message":"Parse error"},"id":null}"#)

        await wire.peer.receive(#"{"jsonrpc":"2.0","result":"pkg","id":1}"#)
        #expect(try await verbatim.value.text == #"{"jsonrpc":"2.0","result":"pkg","id":1}"#)
        #expect(await wire.exchange(#"{"jsonrpc":"2.0","method":"add","id":"probe"}"#) == #"{"jsonrpc":"2.0","result":0,"id":"probe"}"#)
        await Self.expectSettled(wire.peer)
    }
}
