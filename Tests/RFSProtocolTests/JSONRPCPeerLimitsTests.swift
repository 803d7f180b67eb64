import Testing
@testable import RFSProtocol

/// The peer's bounds against the other side (issue 10): batch size, requests in flight, batch
/// replies within the message size, notifications waiting for their handler. Each refusal is a
/// `-32002` error whose message names the limit and its value.
@Suite("JSON-RPC peer: limits against the other side", .timeLimit(.minutes(1)))
struct JSONRPCPeerLimitsTests {
    static func requests(_ ids: ClosedRange<Int>, method: String) -> String {
        "[" + ids.map { #"{"jsonrpc":"2.0","method":"\#(method)","id":\#($0)}"# }.joined(separator: ",") + "]"
    }

    @Test("a batch over max_batch_size gets one -32002 naming its size and the limit, and no handler starts")
    func batchTooLarge() async throws {
        let wire = WirePeer(configuration: .init(maxBatchSize: 3))
        let calls = Recorder<Int>()
        await wire.peer.register("count") { _ in
            await calls.append(1)
            return .null
        }
        #expect(await wire.exchange(Self.requests(1...4, method: "count"))
            == #"{"jsonrpc":"2.0","error":{"code":-32002,"message":"batch of 4 requests exceeds the limit of 3 (max_batch_size)"},"id":null}"#)
        // Refused before any handler started: nothing is in flight, nothing ran.
        #expect(await wire.peer.repliesOwed == 0)
        #expect(await calls.values.isEmpty)
        // A batch at the limit is served.
        let reply = await wire.exchange(Self.requests(1...3, method: "count"))
        #expect(try JSONValue.parse(#require(reply)).arrayValue?.count == 3)
        #expect(await calls.values.count == 3)
    }

    @Test("requests over max_requests_in_flight get -32002 at once; a finished one frees its place")
    func requestsInFlight() async throws {
        let wire = WirePeer(configuration: .init(maxRequestsInFlight: 2))
        let started = Countdown(2)
        await wire.peer.register("hang") { _ in
            await started.tick()
            try await suspendUntilCancelled()
            return .null
        }
        await wire.peer.register("add") { _ in 7 }
        await wire.peer.receive(#"{"jsonrpc":"2.0","method":"hang","id":1}"#)
        await wire.peer.receive(#"{"jsonrpc":"2.0","method":"hang","id":2}"#)
        await started.wait()
        let refused = #"{"jsonrpc":"2.0","error":{"code":-32002,"message":"too many requests in flight: the limit is 2 (max_requests_in_flight)"},"id":3}"#
        #expect(await wire.exchange(#"{"jsonrpc":"2.0","method":"add","id":3}"#) == refused)
        // In a batch too: the one request over the limit is refused, not queued.
        #expect(await wire.exchange(#"[{"jsonrpc":"2.0","method":"add","id":3}]"#) == "[\(refused)]")

        // Cancelling one frees its place once its reply is sent.
        await wire.peer.receive(#"{"jsonrpc":"2.0","method":"$/cancelRequest","params":{"id":1}}"#)
        #expect(await wire.outbox.next() == #"{"jsonrpc":"2.0","error":{"code":-32800,"message":"Request cancelled"},"id":1}"#)
        // The place is given back just after the reply went to the transport.
        while await wire.peer.repliesOwed > 1 { await Task.yield() }
        #expect(await wire.exchange(#"{"jsonrpc":"2.0","method":"add","id":4}"#) == #"{"jsonrpc":"2.0","result":7,"id":4}"#)
        await wire.peer.close(reason: "test over")
    }

    @Test("a batch whose replies together exceed max_message_size: the overflow becomes -32002, the whole reply fits")
    func batchReplyAccounting() async throws {
        let limit = 1000
        let wire = WirePeer(configuration: .init(maxMessageSize: limit))
        let payload = JSONValue.string(String(repeating: "x", count: 250))
        await wire.peer.register("big") { _ in payload }
        let reply = try #require(await wire.exchange(Self.requests(1...5, method: "big")))
        #expect(reply.utf8.count <= limit)
        let items = try #require(try JSONValue.parse(reply).arrayValue)
        #expect(items.count == 5)
        let results = items.filter { $0["result"] == payload }
        let errors = items.filter { $0["error"] != nil }
        // Two replies of ~280 bytes fit next to the errors reserved for the rest; a third does not.
        #expect(results.count == 2)
        #expect(errors.count == 3)
        for error in errors {
            #expect(error["error"] == [
                "code": -32002, "message": "reply to the batch exceeds the limit of 1000 bytes (max_message_size)",
            ])
        }
        #expect(Set(items.compactMap { $0["id"]?.intValue }) == [1, 2, 3, 4, 5])
        await wire.peer.waitUntilIdle()
    }

    @Test("a reply that does not fit in the batch cancels the batch's handlers still running")
    func batchOverflowCancels() async throws {
        let wire = WirePeer(configuration: .init(maxMessageSize: 1000))
        let cancelled = Countdown(2)
        await wire.peer.register("huge") { _ in .string(String(repeating: "y", count: 5000)) }
        await wire.peer.register("hang") { _ in
            do {
                try await suspendUntilCancelled()
            } catch {
                await cancelled.tick()
                throw error
            }
            return .null
        }
        let batch = #"[{"jsonrpc":"2.0","method":"hang","id":1},{"jsonrpc":"2.0","method":"huge","id":2},"#
            + #"{"jsonrpc":"2.0","method":"hang","id":3}]"#
        // Without the cancellation the hanging handlers would hold the batch's reply forever.
        let reply = try #require(await wire.exchange(batch))
        await cancelled.wait()
        let items = try #require(try JSONValue.parse(reply).arrayValue)
        #expect(items.map { $0["error"]?["code"] } == [-32002, -32002, -32002])
        #expect(items.map { $0["id"] } == [1, 2, 3])
        await wire.peer.waitUntilIdle()
    }

    @Test("a single reply over max_message_size is never built in full and becomes -32002 naming the limit")
    func singleReplyTooLarge() async {
        let wire = WirePeer(configuration: .init(maxMessageSize: 100))
        await wire.peer.register("fetch_module") { _ in .string(String(repeating: "x", count: 200)) }
        #expect(await wire.exchange(#"{"jsonrpc":"2.0","method":"fetch_module","id":1}"#)
            == #"{"jsonrpc":"2.0","error":{"code":-32002,"message":"reply exceeds the limit of 100 bytes (max_message_size)"},"id":1}"#)
        #expect(JSONRPCEncoder.encode(JSONRPCResponse(id: 1, result: .string(String(repeating: "x", count: 200))), limit: 100) == nil)
        #expect(JSONRPCEncoder.encode(JSONRPCResponse(id: 1, result: "ok"), limit: 100) == #"{"jsonrpc":"2.0","result":"ok","id":1}"#)
    }

    @Test("notifications behind their handler by more than max_queued_notification_bytes hold back the next message")
    func notificationBacklog() async {
        let gate = Signal()
        let started = Signal()
        let events = Recorder<String>()
        let first = #"{"jsonrpc":"2.0","method":"output","params":{"n":1}}"#
        let peer = JSONRPCPeer(label: "backlog", configuration: .init(maxQueuedNotificationBytes: 10)) { _ in }
        await peer.registerNotification("output") { params in
            guard params?["n"] == 1 else { return }
            await started.fire()
            await gate.wait()
            await events.append("handled 1")
        }
        let inbound = RecordingSequence(messages: [first, #"{"jsonrpc":"2.0","method":"output","params":{"n":2}}"#], events: events)
        let reader = Task { await peer.run(inbound: inbound) }
        await started.wait()
        #expect(peer.notificationBacklog.bytes == first.utf8.count)
        await gate.fire()
        await reader.value
        // The second message was read only once the first one's handler had finished.
        #expect(await events.values == ["pulled 1", "handled 1", "pulled 2"])
    }

    @Test("a handler's reply reservation waits while the session holds max_reply_bytes_held, until the held reply is sent")
    func replyBytesHeld() async throws {
        let wire = WirePeer(configuration: .init(maxReplyBytesHeld: 100))
        let events = Recorder<String>()
        let firstHolds = Signal()
        await wire.peer.register("build") { request in
            try await JSONRPCPeer.reserveReplyBytes(60)
            let id = request.id.description
            await events.append("building \(id)")
            if id == "1" {
                await firstHolds.fire()
                try await suspendUntilCancelled()
            }
            return .string(id)
        }
        await wire.peer.receive(#"{"jsonrpc":"2.0","method":"build","id":1}"#)
        await firstHolds.wait()
        await wire.peer.receive(#"{"jsonrpc":"2.0","method":"build","id":2}"#)
        // 60 + 60 > 100: the second waits for room before it builds anything.
        while wire.peer.replyBudget.waiting < 1 { await Task.yield() }
        #expect(await events.values == ["building 1"])
        // The first reply goes out (cancelled), its reservation is given back, the second builds.
        await wire.peer.receive(#"{"jsonrpc":"2.0","method":"$/cancelRequest","params":{"id":1}}"#)
        #expect(await wire.outbox.next() == #"{"jsonrpc":"2.0","error":{"code":-32800,"message":"Request cancelled"},"id":1}"#)
        #expect(await wire.outbox.next() == #"{"jsonrpc":"2.0","result":"2","id":2}"#)
        #expect(await events.values == ["building 1", "building 2"])
        await wire.peer.waitUntilIdle()
        #expect(wire.peer.replyBudget.bytesInUse == 0)

        // A batch whose items together reserve more than the budget still completes: an item's
        // reservation is given back when its reply joins the batch.
        let batch = try #require(await wire.exchange(Self.requests(10...12, method: "build")))
        #expect(try JSONValue.parse(batch).arrayValue?.compactMap { $0["result"]?.stringValue }.sorted() == ["10", "11", "12"])
        await wire.peer.waitUntilIdle()
        #expect(wire.peer.replyBudget.bytesInUse == 0)

        // One reply larger than the whole budget still goes, alone.
        await wire.peer.register("huge") { _ in
            try await JSONRPCPeer.reserveReplyBytes(1_000)
            return "ok"
        }
        #expect(await wire.exchange(#"{"jsonrpc":"2.0","method":"huge","id":3}"#) == #"{"jsonrpc":"2.0","result":"ok","id":3}"#)
        await wire.peer.waitUntilIdle()
        #expect(wire.peer.replyBudget.bytesInUse == 0)
    }
}

/// Inbound messages for ``JSONRPCPeer/run(inbound:)`` that record each time the peer asks for
/// the next one.
struct RecordingSequence: AsyncSequence, Sendable {
    let messages: [String]
    let events: Recorder<String>

    struct AsyncIterator: AsyncIteratorProtocol {
        var remaining: ArraySlice<String>
        let events: Recorder<String>
        var position = 0

        mutating func next() async -> String? {
            guard let message = remaining.popFirst() else { return nil }
            position += 1
            await events.append("pulled \(position)")
            return message
        }
    }

    func makeAsyncIterator() -> AsyncIterator {
        AsyncIterator(remaining: messages[...], events: events)
    }
}
