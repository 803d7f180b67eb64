import Testing
@testable import RFSProtocol

/// Two peers talking over an in-memory pipe, as a worker and a client do over a WebSocket.
@Suite("JSON-RPC peer: calls, replies, batches, notifications")
struct JSONRPCPeerTests {
    struct DiskFull: Error {}

    /// A connected pair whose right side serves `add` (sum of an array of integers).
    static func makeServedPair(
        configuration: JSONRPCPeer.Configuration = .init()
    ) async -> (left: JSONRPCPeer, right: JSONRPCPeer, wire: WireLog) {
        let wire = WireLog()
        let (left, right) = JSONRPCPeer.makePair(configuration: configuration, observe: wire.observer)
        await right.register("add") { request in
            guard let terms = request.params?.arrayValue else { throw JSONRPCError.invalidParams("expected an array") }
            return .int(terms.compactMap(\.intValue).reduce(0, +))
        }
        return (left, right, wire)
    }

    @Test("a request returns the handler's result, and the handler sees id and params")
    func requestResult() async throws {
        let (left, right, wire) = await Self.makeServedPair()
        await right.register("describe") { request in
            ["id": request.id.jsonValue, "method": .string(request.method), "params": request.params ?? nil]
        }
        #expect(try await left.request("add", params: [2, 3, 4]) == 9)
        #expect(try await left.request("describe", params: ["k": "v"]) == ["id": 2, "method": "describe", "params": ["k": "v"]])
        #expect(wire.all.first == .init(sender: "left", text: #"{"jsonrpc":"2.0","method":"add","params":[2,3,4],"id":1}"#))
        #expect(wire.all.dropFirst().first == .init(sender: "right", text: #"{"jsonrpc":"2.0","result":9,"id":1}"#))
        await left.close(reason: "test over")
    }

    @Test("a handler returning .null answers null")
    func nullResult() async throws {
        let (left, right, _) = await Self.makeServedPair()
        await right.register("set_connection_id") { _ in .null }
        #expect(try await left.request("set_connection_id", params: ["id": "abc"]) == .null)
        await left.close(reason: "test over")
    }

    @Test("outgoing ids are increasing integers")
    func requestIDs() async throws {
        let (left, _, wire) = await Self.makeServedPair()
        for _ in 0..<3 { _ = try await left.request("add", params: []) }
        let ids = wire.all.filter { $0.sender == "left" }.compactMap { try? JSONValue.parse($0.text)["id"] }
        #expect(ids == [1, 2, 3])
        await left.close(reason: "test over")
    }

    @Test("both sides call each other, also from inside a handler (a worker fetching a module during a run)")
    func nestedCallsBothWays() async throws {
        let (client, worker, _) = await Self.makeServedPair()
        await client.register("fetch_module") { request in
            ["name": request.params?["module_name"] ?? nil, "source": "x = 1\n"]
        }
        await worker.register("run") { [worker] _ in
            let module = try await worker.request("fetch_module", params: ["module_name": "pkg"])
            return ["status": "ok", "fetched": module["source"] ?? nil]
        }
        #expect(try await client.request("run", params: ["code": "import pkg"]) == ["status": "ok", "fetched": "x = 1\n"])
        await client.close(reason: "test over")
    }

    // MARK: Errors

    @Test("a handler's JSONRPCError is the caller's error")
    func handlerRPCError() async throws {
        let (left, right, _) = await Self.makeServedPair()
        await right.register("fetch_module") { _ in throw JSONRPCError.invalidParams("module_name must be a string") }
        await #expect(throws: JSONRPCError.invalidParams("module_name must be a string")) {
            try await left.request("fetch_module", params: ["module_name": 3])
        }
        await left.close(reason: "test over")
    }

    @Test("any other handler error becomes -32603 naming the method and the error")
    func handlerOtherError() async throws {
        let (left, right, _) = await Self.makeServedPair()
        await right.register("read_file") { _ in throw DiskFull() }
        let error = await #expect(throws: JSONRPCError.self) { try await left.request("read_file") }
        #expect(error?.code == JSONRPCError.internalError)
        #expect(error?.message.contains("read_file") == true)
        #expect(error?.message.contains("DiskFull") == true)
        // The session carries on.
        #expect(try await left.request("add", params: [1]) == 1)
        await left.close(reason: "test over")
    }

    @Test("an unknown method is -32601")
    func unknownMethod() async {
        let (left, _, _) = await Self.makeServedPair()
        await #expect(throws: JSONRPCError(code: -32601, message: "Method not found")) {
            try await left.request("no_such_method")
        }
        await left.close(reason: "test over")
    }

    // MARK: Concurrency

    @Test("handlers run concurrently and replies are matched in any order")
    func outOfOrderReplies() async throws {
        let (left, right, wire) = await Self.makeServedPair()
        let slowStarted = Signal()
        let release = Signal()
        await right.register("slow") { _ in
            await slowStarted.fire()
            await release.wait()
            return "slow done"
        }
        await right.register("fast") { _ in "fast done" }

        let slow = Task { try await left.request("slow") }
        await slowStarted.wait()
        // If the peer ran handlers one at a time, this would wait for `slow` forever.
        #expect(try await left.request("fast") == "fast done")
        await release.fire()
        #expect(try await slow.value == "slow done")

        let replies = wire.all.filter { $0.sender == "right" }.map(\.text)
        #expect(replies == [
            #"{"jsonrpc":"2.0","result":"fast done","id":2}"#,
            #"{"jsonrpc":"2.0","result":"slow done","id":1}"#,
        ])
        await left.close(reason: "test over")
    }

    @Test("10,000 concurrent requests all get their own correct result, and no state is left behind")
    func flood() async throws {
        // Correlation under load, not the in-flight limit (JSONRPCPeerLimitsTests): raised here.
        let (left, right, _) = await Self.makeServedPair(configuration: .init(maxRequestsInFlight: 10_000))
        await right.register("double") { request in
            .int((request.params?[0]?.intValue ?? 0) * 2)
        }
        let count = 10_000
        let results = try await withThrowingTaskGroup(of: (Int64, JSONValue).self) { group in
            for number in 0..<Int64(count) {
                group.addTask { (number, try await left.request("double", params: [.int(number)])) }
            }
            var results: [Int64: JSONValue] = [:]
            for try await (number, result) in group { results[number] = result }
            return results
        }
        #expect(results.count == count)
        #expect(results.allSatisfy { number, result in result == .int(number * 2) })
        #expect(await left.pendingRequests.isEmpty)
        #expect(await right.runningHandlers.isEmpty)
        await left.close(reason: "test over")
    }

    @Test("floods in both directions at once do not mix up replies")
    func floodBothWays() async throws {
        let (left, right, _) = await Self.makeServedPair(configuration: .init(maxRequestsInFlight: 2_000))
        await left.register("negate") { request in .int(-(request.params?[0]?.intValue ?? 0)) }
        await right.register("negate") { request in .int(-(request.params?[0]?.intValue ?? 0)) }
        try await withThrowingTaskGroup(of: Bool.self) { group in
            for number in 0..<Int64(2_000) {
                group.addTask { try await left.request("negate", params: [.int(number)]) == .int(-number) }
                group.addTask { try await right.request("negate", params: [.int(number)]) == .int(-number) }
            }
            for try await correct in group { #expect(correct) }
        }
        await left.close(reason: "test over")
    }

    // MARK: Notifications

    @Test("notifications reach their handler in the order they were sent, and get no reply")
    func notificationsInOrder() async throws {
        let (left, right, wire) = await Self.makeServedPair()
        let received = Recorder<String>()
        let all = Countdown(100)
        await right.registerNotification("output") { params in
            await received.append(params?["text"]?.stringValue ?? "?")
            await all.tick()
        }
        for index in 0..<100 {
            try await left.notify("output", params: ["stream": "stdout", "text": .string("line \(index)")])
        }
        await all.wait()
        #expect(await received.values == (0..<100).map { "line \($0)" })
        #expect(wire.all.allSatisfy { $0.sender == "left" })
        await left.close(reason: "test over")
    }

    // MARK: Batches

    @Test("an outgoing batch is one message; outcomes come back per request, in order")
    func outgoingBatch() async throws {
        let (left, right, wire) = await Self.makeServedPair()
        let notified = Signal()
        await right.registerNotification("output") { _ in await notified.fire() }
        let outcomes = try await left.batch([
            .request("add", params: [1, 2]),
            .notification("output", params: ["text": "hi"]),
            .request("nope"),
            .request("add", params: [5, 5]),
        ])
        #expect(outcomes.count == 3)
        #expect(try outcomes[0].get() == 3)
        #expect(throws: JSONRPCError(code: -32601, message: "Method not found")) { try outcomes[1].get() }
        #expect(try outcomes[2].get() == 10)
        await notified.wait()

        let sent = wire.all
        #expect(sent.count == 2)
        #expect(sent.first?.text == #"[{"jsonrpc":"2.0","method":"add","params":[1,2],"id":1},{"jsonrpc":"2.0","method":"output","params":{"text":"hi"}},{"jsonrpc":"2.0","method":"nope","id":2},{"jsonrpc":"2.0","method":"add","params":[5,5],"id":3}]"#)
        #expect(sent.last?.text == #"[{"jsonrpc":"2.0","result":3,"id":1},{"jsonrpc":"2.0","error":{"code":-32601,"message":"Method not found"},"id":2},{"jsonrpc":"2.0","result":10,"id":3}]"#)
        await left.close(reason: "test over")
    }

    @Test("a batch's reply keeps request order even when later handlers finish first")
    func batchReplyOrder() async throws {
        let (left, right, _) = await Self.makeServedPair()
        let secondDone = Signal()
        await right.register("first") { _ in
            await secondDone.wait()
            return "first"
        }
        await right.register("second") { _ in
            await secondDone.fire()
            return "second"
        }
        let outcomes = try await left.batch([.request("first"), .request("second")])
        #expect(try outcomes.map { try $0.get() } == ["first", "second"])
        await left.close(reason: "test over")
    }

    @Test("an empty batch sends nothing; a batch of notifications waits for no reply")
    func degenerateBatches() async throws {
        let (left, right, wire) = await Self.makeServedPair()
        let both = Countdown(2)
        await right.registerNotification("ping") { _ in await both.tick() }
        #expect(try await left.batch([]).isEmpty)
        #expect(wire.all.isEmpty)
        #expect(try await left.batch([.notification("ping"), .notification("ping")]).isEmpty)
        await both.wait()
        #expect(wire.all.count == 1)
        await left.close(reason: "test over")
    }

    // MARK: Robustness

    @Test("malformed input gets its error reply and the session carries on")
    func sessionSurvivesMalformedInput() async {
        let wire = WirePeer()
        await wire.peer.register("add") { request in .int(request.params?.arrayValue?.compactMap(\.intValue).reduce(0, +) ?? 0) }
        #expect(await wire.exchange("}{") == #"{"jsonrpc":"2.0","error":{"code":-32700,"message":"Parse error"},"id":null}"#)
        #expect(await wire.exchange(#"{"jsonrpc":"1.0","method":"add","id":5}"#)
            == #"{"jsonrpc":"2.0","error":{"code":-32600,"message":"Invalid Request"},"id":5}"#)
        #expect(await wire.exchange(#"{"jsonrpc":"2.0","method":"add","params":"1,2","id":6}"#)
            == #"{"jsonrpc":"2.0","error":{"code":-32600,"message":"Invalid Request"},"id":6}"#)
        #expect(await wire.exchange("\u{0}\u{1}binary?") == #"{"jsonrpc":"2.0","error":{"code":-32700,"message":"Parse error"},"id":null}"#)
        #expect(await wire.exchange(#"{"jsonrpc":"2.0","method":"add","params":[1,2],"id":7}"#)
            == #"{"jsonrpc":"2.0","result":3,"id":7}"#)
        #expect(await wire.peer.isClosed == false)
    }

    @Test("replies for unknown ids, and error replies without id, are dropped without an answer")
    func unknownReplies() async {
        let wire = WirePeer()
        await wire.peer.register("add") { _ in 0 }
        await wire.peer.receive(#"{"jsonrpc":"2.0","result":1,"id":999}"#)
        await wire.peer.receive(#"{"jsonrpc":"2.0","result":1,"id":"1"}"#)
        await wire.peer.receive(#"{"jsonrpc":"2.0","error":{"code":-32700,"message":"Parse error"},"id":null}"#)
        #expect(await wire.exchange(#"{"jsonrpc":"2.0","method":"add","id":"probe"}"#)
            == #"{"jsonrpc":"2.0","result":0,"id":"probe"}"#)
    }

    @Test("a malformed reply fails the request it names at once, and is answered -32600 with id null")
    func malformedReply() async throws {
        let wire = WirePeer()
        let call = Task { try await wire.peer.request("fetch_module", params: ["module_name": "pkg"]) }
        #expect(await wire.outbox.next() == #"{"jsonrpc":"2.0","method":"fetch_module","params":{"module_name":"pkg"},"id":1}"#)
        await wire.peer.receive(#"{"jsonrpc":"2.0","result":{},"error":{"code":1,"message":"m"},"id":1}"#)
        await #expect(throws: JSONRPCPeerError.malformedResponse(
            method: "fetch_module", reason: "a response must have exactly one of result and error")) {
            try await call.value
        }
        #expect(await wire.outbox.next() == #"{"jsonrpc":"2.0","error":{"code":-32600,"message":"Invalid Request"},"id":null}"#)
    }

    @Test("a second request with the id of a running one is refused")
    func duplicateRunningID() async {
        let wire = WirePeer()
        let started = Signal()
        let cancelled = Signal()
        await wire.peer.register("hang", handler: hangingHandler(started: started, cancelled: cancelled))
        await wire.peer.receive(#"{"jsonrpc":"2.0","method":"hang","id":1}"#)
        await started.wait()
        #expect(await wire.exchange(#"{"jsonrpc":"2.0","method":"hang","id":1}"#)
            == #"{"jsonrpc":"2.0","error":{"code":-32600,"message":"Invalid Request"},"id":null}"#)
        await wire.peer.close(reason: "test over")
        await cancelled.wait()
    }

    // MARK: Size limits

    @Test("outbound messages over the size limit are refused before sending")
    func outboundSizeLimit() async {
        let (left, _, wire) = await Self.makeServedPair(configuration: .init(maxMessageSize: 100))
        let big: JSONValue = ["source": .string(String(repeating: "x", count: 200))]
        let requestSize = JSONRPCRequest(id: 1, method: "add", params: big).serialized().utf8.count
        await #expect(throws: JSONRPCPeerError.messageTooLarge(size: requestSize, limit: 100)) {
            try await left.request("add", params: big)
        }
        let notificationSize = JSONRPCNotification(method: "output", params: big).serialized().utf8.count
        await #expect(throws: JSONRPCPeerError.messageTooLarge(size: notificationSize, limit: 100)) {
            try await left.notify("output", params: big)
        }
        #expect(wire.all.isEmpty)
        await left.close(reason: "test over")
    }

    @Test("a reply over the size limit is replaced by -32002 saying so")
    func replySizeLimit() async {
        let wire = WirePeer(configuration: .init(maxMessageSize: 100))
        let source = JSONValue.string(String(repeating: "x", count: 200))
        await wire.peer.register("fetch_module") { _ in source }
        #expect(await wire.exchange(#"{"jsonrpc":"2.0","method":"fetch_module","id":1}"#)
            == #"{"jsonrpc":"2.0","error":{"code":-32002,"message":"reply exceeds the limit of 100 bytes (max_message_size)"},"id":1}"#)
    }

    @Test("an inbound message over the size limit gets -32600 and the session carries on")
    func inboundSizeLimit() async {
        let wire = WirePeer(configuration: .init(maxMessageSize: 100))
        await wire.peer.register("add") { _ in 0 }
        let big = #"{"jsonrpc":"2.0","method":"add","params":[""# + String(repeating: "x", count: 100) + #""],"id":1}"#
        #expect(await wire.exchange(big) == #"{"jsonrpc":"2.0","error":{"code":-32600,"message":"Invalid Request"},"id":null}"#)
        #expect(await wire.exchange(#"{"jsonrpc":"2.0","method":"add","id":2}"#) == #"{"jsonrpc":"2.0","result":0,"id":2}"#)
    }
}
