import Testing
import RFSProtocol

/// The bound on bytes held at once: outbound messages of a WebSocket session, replies a JSON-RPC peer builds.
@Suite(.timeLimit(.minutes(1)))
struct ByteBudgetTests {
    /// Waits until `count` senders are queued: they enqueue on their own tasks.
    private func waitUntilWaiting(_ budget: ByteBudget, _ count: Int) async {
        while budget.waiting < count { await Task.yield() }
    }

    @Test("senders over the limit wait, and are let in in arrival order as bytes are released")
    func waitsInOrder() async throws {
        let budget = ByteBudget(limit: 10)
        try await budget.acquire(6)
        try await budget.acquire(4)
        #expect(budget.bytesInUse == 10)

        let order = Recorder<String>()
        let first = Task {
            try await budget.acquire(5)
            await order.append("first")
        }
        await waitUntilWaiting(budget, 1)
        let second = Task {
            try await budget.acquire(1)
            await order.append("second")
        }
        await waitUntilWaiting(budget, 2)
        #expect(budget.bytesInUse == 10)
        // Now the second would fit (6 + 1) but the first would not (6 + 5): both wait.
        budget.release(4)
        #expect(budget.waiting == 2)
        #expect(budget.bytesInUse == 6)
        budget.release(6)
        try await first.value
        try await second.value
        #expect(await order.values == ["first", "second"])
        #expect(budget.bytesInUse == 6)
    }

    @Test("a message larger than the limit goes alone, once nothing else is queued")
    func oversizedGoesAlone() async throws {
        let budget = ByteBudget(limit: 10)
        try await budget.acquire(3)
        let big = Task { try await budget.acquire(100) }
        await waitUntilWaiting(budget, 1)
        budget.release(3)
        try await big.value
        #expect(budget.bytesInUse == 100)
    }

    @Test("a cancelled sender leaves the queue and lets the ones behind it in")
    func cancelledWaiter() async throws {
        let budget = ByteBudget(limit: 10)
        try await budget.acquire(8)
        let blocked = Task { try await budget.acquire(5) }
        await waitUntilWaiting(budget, 1)
        let small = Task { try await budget.acquire(2) }
        await waitUntilWaiting(budget, 2)
        blocked.cancel()
        await #expect(throws: CancellationError.self) { try await blocked.value }
        try await small.value
        #expect(budget.bytesInUse == 10)
    }
}
