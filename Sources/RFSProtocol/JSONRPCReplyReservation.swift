import Synchronization

/// The bytes one inbound request's handler has reserved for the reply it builds, taken from its
/// peer's ``ByteBudget`` and given back once the reply has been handed to the transport. A batch
/// item's is given back when its reply joins the batch (the batch's own limit bounds it from
/// then on), and the finished batch reply takes its own size before it is sent.
///
/// Why: the in-flight limit bounds how many replies a peer builds at once, not how large they
/// are, so without this a peer that asks for 64 large things at once (a worker asking for 64
/// big source files, a client asking for the plugin info of a huge context 64 times) would make
/// the other side hold 64 large replies. A handler that can tell how large its reply will be
/// before building it calls ``JSONRPCPeer/reserveReplyBytes(_:)`` first, and waits while the
/// session already holds ``JSONRPCPeer/Configuration/maxReplyBytesHeld``.
///
/// Owned by the handler's task (reached through a task-local), released by the task that sends
/// the reply; the `Mutex` makes a late reserve after the release harmless.
final class JSONRPCReplyReservation: Sendable {
    @TaskLocal static var current: JSONRPCReplyReservation?

    private let budget: ByteBudget
    /// Bytes held; `nil` once released (later reservations are not taken).
    private let held = Mutex<Int?>(0)

    init(budget: ByteBudget) {
        self.budget = budget
    }

    /// Takes `bytes` more from the budget, waiting for room.
    func reserve(_ bytes: Int) async throws {
        guard bytes > 0 else { return }
        try await budget.acquire(bytes)
        let kept = held.withLock { held -> Bool in
            guard let current = held else { return false }
            held = current + bytes
            return true
        }
        if !kept { budget.release(bytes) }
    }

    /// Gives back what is held beyond `bytes` (a handler that reserved its worst case and now
    /// knows its reply's size); never takes more.
    func trim(to bytes: Int) {
        let excess = held.withLock { held -> Int in
            guard let current = held, current > bytes else { return 0 }
            held = max(0, bytes)
            return current - max(0, bytes)
        }
        if excess > 0 { budget.release(excess) }
    }

    /// Gives everything back; later calls do nothing.
    func release() {
        let bytes = held.withLock { held -> Int in
            defer { held = nil }
            return held ?? 0
        }
        if bytes > 0 { budget.release(bytes) }
    }
}

extension JSONRPCPeer {
    /// Called by a request handler before it builds a reply of about `bytes` bytes: waits until
    /// the session holds fewer than ``Configuration/maxReplyBytesHeld`` bytes of replies (a
    /// reply larger than that waits until it is alone). The reservation lasts until the reply is
    /// handed to the transport. Outside a handler it does nothing.
    ///
    /// - Throws: `CancellationError` when the request is cancelled while waiting.
    public static func reserveReplyBytes(_ bytes: Int) async throws {
        try await JSONRPCReplyReservation.current?.reserve(bytes)
    }

    /// Lowers the calling handler's reservation to `bytes` once it knows its reply is smaller
    /// than the worst case it reserved, so other handlers need not wait for bytes it will never
    /// use. Outside a handler it does nothing.
    public static func trimReplyReservation(to bytes: Int) {
        JSONRPCReplyReservation.current?.trim(to: bytes)
    }
}
