import Testing
@testable import RFSProtocol

/// Timeouts, cancellation in both directions, and closing: the paths where a reply never comes.
@Suite("JSON-RPC peer: timeouts, cancellation, close")
struct JSONRPCPeerLifecycleTests {
    /// A pair whose right side serves `hang`, a handler that only ends when cancelled.
    static func makeHangingPair(
        configuration: JSONRPCPeer.Configuration = .init()
    ) async -> (left: JSONRPCPeer, right: JSONRPCPeer, wire: WireLog, started: Signal, cancelled: Signal) {
        let wire = WireLog()
        let (left, right) = JSONRPCPeer.makePair(configuration: configuration, observe: wire.observer)
        let started = Signal()
        let cancelled = Signal()
        await right.register("hang", handler: hangingHandler(started: started, cancelled: cancelled))
        await right.register("echo") { request in request.params ?? nil }
        return (left, right, wire, started, cancelled)
    }

    static let cancelRequestOne = #"{"jsonrpc":"2.0","method":"$/cancelRequest","params":{"id":1}}"#
    static let cancelledReplyOne = #"{"jsonrpc":"2.0","error":{"code":-32800,"message":"Request cancelled"},"id":1}"#

    // MARK: Timeouts

    @Test("a request times out, sends $/cancelRequest, and the other side's handler is cancelled")
    func timeout() async throws {
        let (left, _, wire, _, cancelled) = await Self.makeHangingPair()
        await #expect(throws: JSONRPCPeerError.timedOut(method: "hang", after: .milliseconds(50))) {
            try await left.request("hang", timeout: .milliseconds(50))
        }
        // The handler on the other side only ends when its task is cancelled.
        await cancelled.wait()
        #expect(wire.all.contains(.init(sender: "left", text: Self.cancelRequestOne)))
        // Its -32800 reply arrives late and is dropped; the session carries on.
        _ = await wire.waitFor { $0 == .init(sender: "right", text: Self.cancelledReplyOne) }
        #expect(try await left.request("echo", params: [1]) == [1])
        #expect(await left.pendingRequests.isEmpty)
        await left.close(reason: "test over")
    }

    @Test("the configured default timeout applies when a request gives none")
    func defaultTimeout() async throws {
        let (left, _, _, _, cancelled) = await Self.makeHangingPair(configuration: .init(defaultRequestTimeout: .milliseconds(20)))
        await #expect(throws: JSONRPCPeerError.timedOut(method: "hang", after: .milliseconds(20))) {
            try await left.request("hang")
        }
        await cancelled.wait()
        // The session carries on; an explicit timeout overrides the (tiny) default, so this
        // does not depend on how loaded the machine is.
        #expect(try await left.request("echo", params: ["ok": true], timeout: .seconds(60)) == ["ok": true])
        await left.close(reason: "test over")
    }

    @Test("a request's own timeout overrides the default")
    func timeoutOverride() async throws {
        let (left, _, _, _, _) = await Self.makeHangingPair(configuration: .init(defaultRequestTimeout: .seconds(3600)))
        await #expect(throws: JSONRPCPeerError.timedOut(method: "hang", after: .milliseconds(10))) {
            try await left.request("hang", timeout: .milliseconds(10))
        }
        await left.close(reason: "test over")
    }

    // MARK: Cancellation

    @Test("cancelling the awaiting task throws CancellationError and cancels the other side's handler")
    func cancelAwaitingTask() async throws {
        let (left, _, wire, started, cancelled) = await Self.makeHangingPair()
        let call = Task { try await left.request("hang") }
        await started.wait()
        call.cancel()
        await #expect(throws: CancellationError.self) { try await call.value }
        await cancelled.wait()
        #expect(wire.all.contains(.init(sender: "left", text: Self.cancelRequestOne)))
        _ = await wire.waitFor { $0 == .init(sender: "right", text: Self.cancelledReplyOne) }
        #expect(await left.pendingRequests.isEmpty)
        #expect(try await left.request("echo", params: [2]) == [2])
        await left.close(reason: "test over")
    }

    @Test("a task cancelled before it calls does not send the request at all")
    func cancelledBeforeSending() async throws {
        let (left, _, wire, _, _) = await Self.makeHangingPair()
        let go = Signal()
        let call = Task {
            await go.wait()
            return try await left.request("echo", params: [1])
        }
        call.cancel()
        await go.fire()
        await #expect(throws: CancellationError.self) { try await call.value }
        #expect(wire.all.isEmpty)
        #expect(await left.pendingRequests.isEmpty)
        await left.close(reason: "test over")
    }

    @Test("cancelling a batch cancels every request still unanswered")
    func cancelBatch() async throws {
        let (left, right, wire, _, _) = await Self.makeHangingPair()
        let bothStarted = Countdown(2)
        let bothCancelled = Countdown(2)
        await right.register("hang") { _ in
            await bothStarted.tick()
            do { try await suspendUntilCancelled() } catch { await bothCancelled.tick() }
            throw CancellationError()
        }
        let call = Task { try await left.batch([.request("hang"), .request("hang")]) }
        await bothStarted.wait()
        call.cancel()
        await #expect(throws: CancellationError.self) { try await call.value }
        await bothCancelled.wait()
        let notices = wire.all.filter { $0.sender == "left" && $0.text.contains("$/cancelRequest") }
        #expect(notices.count == 2)
        // The batch reply (two -32800 errors) still comes, as one array, and is dropped.
        let reply = await wire.waitFor { $0.sender == "right" }
        #expect(reply?.text == "[" + Self.cancelledReplyOne + "," + Self.cancelledReplyOne.replacingOccurrences(of: #""id":1"#, with: #""id":2"#) + "]")
        #expect(await left.pendingRequests.isEmpty)
        await left.close(reason: "test over")
    }

    @Test("an incoming $/cancelRequest cancels the handler, whose reply is -32800")
    func incomingCancelRequest() async {
        let wire = WirePeer()
        let started = Signal()
        let cancelled = Signal()
        await wire.peer.register("hang", handler: hangingHandler(started: started, cancelled: cancelled))
        await wire.peer.receive(#"{"jsonrpc":"2.0","method":"hang","id":"run-7"}"#)
        await started.wait()
        #expect(await wire.exchange(#"{"jsonrpc":"2.0","method":"$/cancelRequest","params":{"id":"run-7"}}"#)
            == #"{"jsonrpc":"2.0","error":{"code":-32800,"message":"Request cancelled"},"id":"run-7"}"#)
        await cancelled.wait()
        #expect(await wire.peer.runningHandlers.isEmpty)
    }

    @Test("a cancelled handler that ends with any error still answers -32800")
    func cancelledHandlerThrowingOtherError() async {
        let wire = WirePeer()
        let started = Signal()
        await wire.peer.register("run") { _ in
            await started.fire()
            do { try await suspendUntilCancelled() } catch {}
            throw JSONRPCError.internalError("KeyboardInterrupt")
        }
        await wire.peer.receive(#"{"jsonrpc":"2.0","method":"run","id":3}"#)
        await started.wait()
        #expect(await wire.exchange(#"{"jsonrpc":"2.0","method":"$/cancelRequest","params":{"id":3}}"#)
            == #"{"jsonrpc":"2.0","error":{"code":-32800,"message":"Request cancelled"},"id":3}"#)
    }

    @Test("a cancelled handler that still returns a result has that result sent")
    func cancelledHandlerReturningResult() async {
        let wire = WirePeer()
        let started = Signal()
        await wire.peer.register("run") { _ in
            await started.fire()
            do { try await suspendUntilCancelled() } catch {}
            return ["status": "ok", "partial": true]
        }
        await wire.peer.receive(#"{"jsonrpc":"2.0","method":"run","id":4}"#)
        await started.wait()
        #expect(await wire.exchange(#"{"jsonrpc":"2.0","method":"$/cancelRequest","params":{"id":4}}"#)
            == #"{"jsonrpc":"2.0","result":{"partial":true,"status":"ok"},"id":4}"#)
    }

    @Test("$/cancelRequest for an unknown id or without an id is ignored, without reply")
    func strayCancelRequests() async {
        let wire = WirePeer()
        await wire.peer.register("echo") { request in request.params ?? nil }
        await wire.peer.receive(#"{"jsonrpc":"2.0","method":"$/cancelRequest","params":{"id":42}}"#)
        await wire.peer.receive(#"{"jsonrpc":"2.0","method":"$/cancelRequest","params":{"id":{}}}"#)
        await wire.peer.receive(#"{"jsonrpc":"2.0","method":"$/cancelRequest"}"#)
        #expect(await wire.exchange(#"{"jsonrpc":"2.0","method":"echo","params":[1],"id":1}"#)
            == #"{"jsonrpc":"2.0","result":[1],"id":1}"#)
    }

    // MARK: Close

    @Test("closing fails every request in flight at once with .closed, and the other side closes too")
    func closeWithRequestsInFlight() async throws {
        let (left, right, _, _, _) = await Self.makeHangingPair()
        let allStarted = Countdown(5)
        let allCancelled = Countdown(5)
        await right.register("hang") { _ in
            await allStarted.tick()
            do { try await suspendUntilCancelled() } catch { await allCancelled.tick() }
            throw CancellationError()
        }
        let calls = (0..<5).map { _ in Task { try await left.request("hang") } }
        await allStarted.wait()

        await left.close(reason: "shutting down")
        for call in calls {
            await #expect(throws: JSONRPCPeerError.closed(reason: "shutting down")) { try await call.value }
        }
        #expect(await left.isClosed)
        #expect(await left.pendingRequests.isEmpty)

        // The other side sees the connection end: it closes and cancels its running handlers.
        #expect(await right.waitUntilClosed() == "connection closed")
        await allCancelled.wait()
        #expect(await right.runningHandlers.isEmpty)
    }

    @Test("after close, calls fail immediately and closing again changes nothing")
    func callsAfterClose() async {
        let (left, _, wire, _, _) = await Self.makeHangingPair()
        await left.close(reason: "done")
        await #expect(throws: JSONRPCPeerError.closed(reason: "done")) { try await left.request("echo") }
        await #expect(throws: JSONRPCPeerError.closed(reason: "done")) { try await left.notify("output") }
        await #expect(throws: JSONRPCPeerError.closed(reason: "done")) { try await left.batch([.request("echo")]) }
        await left.close(reason: "again")
        #expect(await left.waitUntilClosed() == "done")
        #expect(wire.all.isEmpty)
    }

    @Test("a closed peer ignores inbound messages")
    func closedIgnoresInput() async {
        let wire = WirePeer()
        await wire.peer.register("echo") { _ in 1 }
        await wire.peer.close(reason: "done")
        await wire.peer.receive(#"{"jsonrpc":"2.0","method":"echo","id":1}"#)
        await wire.peer.receive("not json")
        #expect(await wire.peer.runningHandlers.isEmpty)
    }

    @Test("run(inbound:) closes the peer when the sequence ends, failing requests in flight")
    func runEndsWithSequence() async throws {
        let pipe = InMemoryPipe()
        let inbound = InMemoryPipe()
        let peer = JSONRPCPeer(label: "client") { try pipe.send($0) }
        let outbox = StreamReader(pipe.messages)
        let runLoop = Task { await peer.run(inbound: inbound.messages) }

        let call = Task { try await peer.request("fetch_module", params: ["module_name": "a"]) }
        #expect(await outbox.next() == #"{"jsonrpc":"2.0","method":"fetch_module","params":{"module_name":"a"},"id":1}"#)
        try? inbound.send(#"{"jsonrpc":"2.0","result":null,"id":1}"#)
        #expect(try await call.value == .null)

        let unanswered = Task { try await peer.request("fetch_module", params: ["module_name": "b"]) }
        _ = await outbox.next()
        inbound.finish()
        await runLoop.value
        await #expect(throws: JSONRPCPeerError.closed(reason: "connection closed")) { try await unanswered.value }
    }

    @Test("run(inbound:) closes the peer with the error when the sequence throws")
    func runEndsWithError() async {
        struct ConnectionReset: Error, CustomStringConvertible {
            var description: String { "connection reset by peer" }
        }
        let peer = JSONRPCPeer(label: "client") { _ in }
        let (stream, continuation) = AsyncThrowingStream.makeStream(of: String.self)
        continuation.finish(throwing: ConnectionReset())
        await peer.run(inbound: stream)
        #expect(await peer.waitUntilClosed() == "connection closed: connection reset by peer")
    }

    @Test("a send failure is the caller's error and leaves nothing pending")
    func sendFailure() async {
        struct Unwritable: Error, Equatable {}
        let peer = JSONRPCPeer(label: "client") { _ in throw Unwritable() }
        await #expect(throws: Unwritable()) { try await peer.request("x", timeout: .seconds(3600)) }
        await #expect(throws: Unwritable()) { try await peer.notify("x") }
        await #expect(throws: Unwritable()) { try await peer.batch([.request("x")]) }
        #expect(await peer.pendingRequests.isEmpty)
    }
}
