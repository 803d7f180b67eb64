import Logging
import RFSPython
import RFSProtocol
import Synchronization

/// Streams a run's stdout/stderr to its client as `output` notifications, in order.
///
/// Python's thread calls ``write(_:_:)`` synchronously and must never wait on the network, so
/// chunks go into a buffer (owned by a `Mutex`) and one task sends them. Adjacent chunks of the
/// same stream are coalesced, which keeps a chatty loop from becoming one frame per `print`.
final class OutputForwarder: Sendable {
    private struct Buffer {
        var chunks: [(OutputStreamKind, String)] = []
        var finished = false
    }

    /// Shared by the writer (Python's thread) and the sender task.
    private final class SharedBuffer: Sendable {
        let state = Mutex(Buffer())
    }

    private let buffer = SharedBuffer()
    private let signal: AsyncStream<Void>.Continuation
    private let sender: Task<Void, Never>

    init(peer: JSONRPCPeer, logger: Logger) {
        let (stream, continuation) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
        signal = continuation
        let buffer = self.buffer
        sender = Task {
            var peerGone = false
            for await _ in stream {
                let chunks = buffer.state.withLock { state -> [(OutputStreamKind, String)] in
                    defer { state.chunks.removeAll(keepingCapacity: true) }
                    return state.chunks
                }
                guard !peerGone else { continue }
                for (kind, text) in Self.coalesce(chunks) {
                    do {
                        try await peer.notify(
                            "output", params: .object(["stream": .string(kind.rawValue), "text": .string(text)]))
                    } catch {
                        logger.debug("output dropped: client gone", metadata: ["error": "\(error)"])
                        peerGone = true
                        break
                    }
                }
            }
        }
    }

    /// Called from Python's thread for every write to sys.stdout / sys.stderr.
    func write(_ kind: OutputStreamKind, _ text: String) {
        let accepted = buffer.state.withLock { state -> Bool in
            guard !state.finished else { return false }
            state.chunks.append((kind, text))
            return true
        }
        if accepted { signal.yield() }
    }

    /// Sends what is buffered and waits until it is on its way, so output precedes the reply.
    func finish() async {
        buffer.state.withLock { $0.finished = true }
        signal.yield()
        signal.finish()
        await sender.value
    }

    static func coalesce(_ chunks: [(OutputStreamKind, String)]) -> [(OutputStreamKind, String)] {
        var merged: [(OutputStreamKind, String)] = []
        for (kind, text) in chunks {
            if let last = merged.last, last.0 == kind {
                merged[merged.count - 1].1 += text
            } else {
                merged.append((kind, text))
            }
        }
        return merged
    }
}
