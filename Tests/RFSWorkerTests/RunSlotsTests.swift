import Synchronization
import Testing

@testable import RFSWorker

/// `--max-runs` and the one-at-a-time host gate: at most `capacity` holders, the rest served in
/// arrival order, and a cancelled waiter leaves the queue without taking a slot.
@Suite("Run slots", .timeLimit(.minutes(1)))
struct RunSlotsTests {
    @Test("up to capacity acquire at once; the next waits until a holder releases")
    func capacity() async throws {
        let slots = RunSlots(capacity: 2)
        try await slots.acquire()
        try await slots.acquire()
        #expect(slots.inUse == 2)
        let third = Task { try await slots.acquire() }
        await waitUntil { slots.queued == 1 }
        #expect(slots.inUse == 2)
        slots.release()
        try await third.value
        #expect(slots.inUse == 2)
        #expect(slots.queued == 0)
    }

    @Test("waiters are served in arrival order")
    func arrivalOrder() async throws {
        let slots = RunSlots(capacity: 1)
        try await slots.acquire()
        let order = OrderLog()
        var waiters: [Task<Void, any Error>] = []
        for number in 0..<5 {
            waiters.append(Task {
                try await slots.acquire()
                order.append(number)
                slots.release()
            })
            await waitUntil { slots.queued == number + 1 }
        }
        slots.release()
        for waiter in waiters { try await waiter.value }
        #expect(order.values == [0, 1, 2, 3, 4])
        #expect(slots.inUse == 0)
    }

    @Test("a cancelled waiter leaves the queue and never holds a slot")
    func cancellation() async throws {
        let slots = RunSlots(capacity: 1)
        try await slots.acquire()
        let cancelled = Task { try await slots.acquire() }
        await waitUntil { slots.queued == 1 }
        cancelled.cancel()
        await #expect(throws: CancellationError.self) { try await cancelled.value }
        #expect(slots.queued == 0)
        slots.release()
        #expect(slots.inUse == 0)
        try await slots.acquire()
        #expect(slots.inUse == 1)
    }
}

/// Polls a condition that another task makes true (used only to observe queue lengths, which
/// have no event of their own); yields between checks.
func waitUntil(_ condition: () -> Bool) async {
    while !condition() { await Task.yield() }
}

final class OrderLog: Sendable {
    private let storage = Mutex<[Int]>([])

    func append(_ value: Int) {
        storage.withLock { $0.append(value) }
    }

    var values: [Int] { storage.withLock { $0 } }
}
