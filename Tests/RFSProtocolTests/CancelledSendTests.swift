import RFSProtocol
import Testing

/// Transports such as NIO's async writers refuse to write from a cancelled task. Cancellation
/// must still reach the other side, and the cancelled handler's -32800 reply must still go out.
@Suite(.timeLimit(.minutes(1)))
struct CancelledSendTests {
    @Test("a cancelled request still sends $/cancelRequest, and the cancelled handler still replies -32800")
    func cancellationCrossesACancellationSensitiveTransport() async throws {
        let (leftInbound, toLeft) = AsyncStream.makeStream(of: String.self)
        let (rightInbound, toRight) = AsyncStream.makeStream(of: String.self)
        let (rightOutbound, tapRight) = AsyncStream.makeStream(of: String.self)
        let left = JSONRPCPeer(label: "left") { text in
            try Task.checkCancellation()
            toRight.yield(text)
        }
        let right = JSONRPCPeer(label: "right") { text in
            try Task.checkCancellation()
            tapRight.yield(text)
            toLeft.yield(text)
        }
        let (started, handlerStarted) = AsyncStream.makeStream(of: Void.self)
        await right.register("hang") { _ in
            handlerStarted.yield()
            try await suspendUntilCancelled()
            return .null
        }
        let readers = [Task { await left.run(inbound: leftInbound) }, Task { await right.run(inbound: rightInbound) }]

        let call = Task { try await left.request("hang") }
        var startedIterator = started.makeAsyncIterator()
        _ = await startedIterator.next()
        call.cancel()
        await #expect(throws: CancellationError.self) { try await call.value }

        // Only a $/cancelRequest that got through can end the hour-long handler.
        var sawCancelledReply = false
        for await text in rightOutbound {
            let message = try JSONValue.parse(text)
            if message["error"]?["code"] == .int(Int64(JSONRPCError.requestCancelled)) {
                sawCancelledReply = true
                break
            }
        }
        #expect(sawCancelledReply)
        await left.close(reason: "test over")
        await right.close(reason: "test over")
        toLeft.finish()
        toRight.finish()
        for reader in readers { await reader.value }
    }
}

/// A server that shuts down first waits for the replies it owes.
@Suite(.timeLimit(.minutes(1)))
struct WaitUntilIdleTests {
    @Test("waitUntilIdle returns only after the running handler's reply was handed to send")
    func idleMeansRepliesSent() async throws {
        let (inbound, feed) = AsyncStream.makeStream(of: String.self)
        let (outbound, sent) = AsyncStream.makeStream(of: String.self)
        let peer = JSONRPCPeer(label: "server") { text in sent.yield(text) }
        let (release, releaseHandler) = AsyncStream.makeStream(of: Void.self)
        let (started, handlerStarted) = AsyncStream.makeStream(of: Void.self)
        await peer.register("slow") { _ in
            handlerStarted.yield()
            for await _ in release { break }
            return "done"
        }
        let reader = Task { await peer.run(inbound: inbound) }
        await peer.waitUntilIdle()  // nothing owed yet: returns at once

        feed.yield(#"{"jsonrpc":"2.0","id":1,"method":"slow"}"#)
        for await _ in started { break }
        let idle = Task {
            await peer.waitUntilIdle()
            sent.yield("idle")
        }
        releaseHandler.yield()
        var order: [String] = []
        for await text in outbound {
            order.append(text)
            if text == "idle" { break }
        }
        #expect(order == [#"{"jsonrpc":"2.0","result":"done","id":1}"#, "idle"])
        await idle.value
        feed.finish()
        await reader.value
    }
}
