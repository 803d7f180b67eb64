import Synchronization

/// Bytes of inbound messages whose notifications wait for their handler, and the inbound
/// readers waiting for that to fall under ``limit``
/// (``JSONRPCPeer/Configuration/maxQueuedNotificationBytes``).
///
/// Concurrency: a `Mutex`. ``add(_:)`` is called from the peer's actor as notifications are
/// queued, ``remove(_:)`` by the notification task after each handler, ``waitForRoom()`` by
/// ``JSONRPCPeer/receive(_:)`` (the transport's reading task), ``close()`` by the peer's close.
final class NotificationBacklog: Sendable {
    private struct State {
        var bytes = 0
        var closed = false
        var waiters: [CheckedContinuation<Void, Never>] = []
    }

    let limit: Int
    private let state = Mutex(State())

    init(limit: Int) {
        self.limit = limit
    }

    var bytes: Int { state.withLock { $0.bytes } }

    func add(_ count: Int) {
        state.withLock { $0.bytes += count }
    }

    func remove(_ count: Int) {
        let waiters = state.withLock { state -> [CheckedContinuation<Void, Never>] in
            state.bytes -= count
            guard state.bytes <= limit else { return [] }
            defer { state.waiters.removeAll() }
            return state.waiters
        }
        for waiter in waiters { waiter.resume() }
    }

    /// Returns once the backlog is at most ``limit`` bytes, or the peer is closed (its queue is
    /// then dropped). Not cancellable: the notification task always makes progress.
    func waitForRoom() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let ready = state.withLock { state -> Bool in
                if state.closed || state.bytes <= limit { return true }
                state.waiters.append(continuation)
                return false
            }
            if ready { continuation.resume() }
        }
    }

    /// The peer closed: nothing queued will be handled, so nobody should wait for it.
    func close() {
        let waiters = state.withLock { state -> [CheckedContinuation<Void, Never>] in
            state.closed = true
            defer { state.waiters.removeAll() }
            return state.waiters
        }
        for waiter in waiters { waiter.resume() }
    }
}
