import Logging

/// A one-way, in-process message channel: what one peer sends, the other reads from
/// ``messages``, in order. Stands in for a WebSocket connection in tests (here and in other
/// targets) and for wiring two peers in one process.
public struct InMemoryPipe: Sendable {
    /// Everything sent, in order; ends after ``finish()``. Read it from one task only.
    public let messages: AsyncStream<String>
    private let continuation: AsyncStream<String>.Continuation

    public init() {
        (messages, continuation) = AsyncStream.makeStream(of: String.self)
    }

    /// Queues `text` for the reader without waiting (the buffer is unbounded).
    ///
    /// - Throws: ``JSONRPCPeerError/closed(reason:)`` once the pipe is finished.
    public func send(_ text: String) throws {
        if case .terminated = continuation.yield(text) {
            throw JSONRPCPeerError.closed(reason: "pipe finished")
        }
    }

    /// Ends ``messages`` after the messages already queued, like closing a connection.
    public func finish() {
        continuation.finish()
    }
}

extension JSONRPCPeer {
    /// Two peers connected by ``InMemoryPipe``s, already running: what `left` sends, `right`
    /// receives and vice versa. Closing either peer closes the other one (with reason
    /// "connection closed"), as a dropped connection would.
    ///
    /// - Parameter observe: sees every message as it is sent, with the sender's label; lets
    ///   tests assert what went over the wire.
    public static func makePair(
        leftLabel: String = "left",
        rightLabel: String = "right",
        configuration: Configuration = .init(),
        logger: Logger = Logger(label: "rfs.jsonrpc"),
        observe: (@Sendable (_ sender: String, _ text: String) -> Void)? = nil
    ) -> (JSONRPCPeer, JSONRPCPeer) {
        let leftToRight = InMemoryPipe()
        let rightToLeft = InMemoryPipe()
        let left = JSONRPCPeer(label: leftLabel, configuration: configuration, logger: logger) { text in
            observe?(leftLabel, text)
            try leftToRight.send(text)
        }
        let right = JSONRPCPeer(label: rightLabel, configuration: configuration, logger: logger) { text in
            observe?(rightLabel, text)
            try rightToLeft.send(text)
        }
        Task { await right.run(inbound: leftToRight.messages) }
        Task { await left.run(inbound: rightToLeft.messages) }
        Task {
            _ = await left.waitUntilClosed()
            leftToRight.finish()
        }
        Task {
            _ = await right.waitUntilClosed()
            rightToLeft.finish()
        }
        return (left, right)
    }
}
