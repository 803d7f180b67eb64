import NIOCore

/// The inbound text messages of a session, in order, with backpressure: while nobody iterates,
/// the channel stops reading from the socket once a few messages are buffered.
///
/// Iteration ends when the connection closes. It ends normally when the application closed the
/// session or the peer closed it with 1000/1001; otherwise (oversized or binary message, invalid
/// UTF-8, lost connection, missing pong, any other close code) it throws
/// `WebSocketTransportError.closed` carrying the `WebSocketCloseStatus`, so the cause reaches
/// whoever is reading.
///
/// Single consumer: make one iterator per session (NIO's unicast stream traps on a second one).
/// Abandoning the iterator stops reading from the socket for good; close the session then.
public struct WebSocketMessages: AsyncSequence, Sendable {
    public typealias Element = String
    public typealias Failure = any Error

    private let inbound: NIOAsyncChannelInboundStream<String>
    private let connection: WebSocketConnectionState

    init(inbound: NIOAsyncChannelInboundStream<String>, connection: WebSocketConnectionState) {
        self.inbound = inbound
        self.connection = connection
    }

    public func makeAsyncIterator() -> AsyncIterator {
        AsyncIterator(base: self.inbound.makeAsyncIterator(), connection: self.connection)
    }

    public struct AsyncIterator: AsyncIteratorProtocol {
        private var base: NIOAsyncChannelInboundStream<String>.AsyncIterator
        private let connection: WebSocketConnectionState
        private var finished = false

        init(base: NIOAsyncChannelInboundStream<String>.AsyncIterator, connection: WebSocketConnectionState) {
            self.base = base
            self.connection = connection
        }

        public mutating func next() async throws -> String? {
            guard !self.finished else { return nil }
            if let message = try await self.base.next() {
                return message
            }
            self.finished = true
            if Task.isCancelled {
                return nil
            }
            if let status = self.connection.closeStatus, !status.isNormal {
                throw WebSocketTransportError.closed(remote: self.connection.remoteDescription, status: status)
            }
            return nil
        }
    }
}
