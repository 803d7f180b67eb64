import Foundation
import RFSProtocol
import RFSWire

/// Everything the run host writes on its control channel, written by one thread of its own.
///
/// Two kinds of producers, two policies:
/// - **output** (Python threads, without the GIL): waits while more than ``maxQueuedBytes`` are
///   queued. The worker stops reading this channel while the run's client does not read, so a
///   script that prints faster than its client reads is paused here, never buffered in memory
///   (DESIGN.md §6: backpressure end to end);
/// - **messages** (replies, `host/ready`, from Swift tasks): queued without waiting, so the
///   cooperative pool never blocks on the channel; there are few and they are small.
///
/// While it is behind, the writer thread merges queued output of the same stream into one
/// message (within the message size limit), so a chatty loop does not become one message per
/// line when the client is slow; when it keeps up, each write goes out at once.
final class ControlWriter: @unchecked Sendable {
    private enum Item {
        case output(OutputStreamKind, String)
        case message(String)

        var byteCount: Int {
            switch self {
            case .output(_, let text), .message(let text): text.utf8.count
            }
        }
    }

    private let descriptor: Int32
    private let maxTextBytes: Int
    private let maxQueuedBytes: Int
    private let onClosed: @Sendable () -> Void
    // Guarded by `condition`:
    private let condition = NSCondition()
    private var queue: [Item] = []
    private var queuedBytes = 0
    private var closed = false
    private var wakeGeneration: UInt64 = 0
    private var waitingOutputs = 0

    /// - Parameters:
    ///   - onClosed: called (on the writer thread) when the channel fails: the worker is gone.
    init(descriptor: Int32, maxMessageSize: Int, maxQueuedBytes: Int = 1 << 20, onClosed: @escaping @Sendable () -> Void) {
        self.descriptor = descriptor
        self.maxTextBytes = OutputParams.maxTextBytes(maxMessageSize: maxMessageSize)
        self.maxQueuedBytes = maxQueuedBytes
        self.onClosed = onClosed
        let thread = Thread { [self] in
            Thread.current.name = "rfs-host-writer"
            self.loop()
        }
        thread.start()
    }

    /// Queues one message; never waits.
    func send(_ message: String) {
        condition.lock()
        queue.append(.message(message))
        queuedBytes += message.utf8.count
        condition.broadcast()
        condition.unlock()
    }

    /// Queues a run's output, waiting while too much is queued. Returns early (dropping the
    /// text) when ``wake()`` is called, so an interrupted script is not stuck behind a client
    /// that stopped reading; the caller then checks for the interrupt.
    func writeOutput(_ kind: OutputStreamKind, _ text: String) {
        guard !text.isEmpty else { return }
        condition.lock()
        defer { condition.unlock() }
        let generation = wakeGeneration
        for piece in OutputParams.split(text, maxBytes: maxTextBytes) {
            while queuedBytes >= maxQueuedBytes && !closed && generation == wakeGeneration {
                waitingOutputs += 1
                condition.wait()
                waitingOutputs -= 1
            }
            if closed || generation != wakeGeneration { return }
            queue.append(.output(kind, piece))
            queuedBytes += piece.utf8.count
            condition.broadcast()
        }
    }

    /// Output writes waiting for room now (for tests and diagnostics).
    var waitingWriters: Int {
        condition.lock()
        defer { condition.unlock() }
        return waitingOutputs
    }

    /// Ends every output wait in progress (the run is being interrupted).
    func wake() {
        condition.lock()
        wakeGeneration &+= 1
        condition.broadcast()
        condition.unlock()
    }

    private func loop() {
        while true {
            condition.lock()
            while queue.isEmpty && !closed {
                condition.wait()
            }
            if closed {
                condition.unlock()
                return
            }
            let items = queue
            queue.removeAll(keepingCapacity: true)
            condition.unlock()

            var bytes: [UInt8] = []
            for message in coalesce(items) {
                bytes.append(contentsOf: FrameIO.frame(message))
            }
            let ok = bytes.withUnsafeBytes { FrameIO.writeAll(descriptor, $0) }

            condition.lock()
            queuedBytes = max(0, queuedBytes - items.reduce(0) { $0 + $1.byteCount })
            if !ok { closed = true }
            condition.broadcast()
            condition.unlock()
            if !ok {
                onClosed()
                return
            }
        }
    }

    /// Adjacent output of one stream becomes one message, up to the size limit.
    private func coalesce(_ items: [Item]) -> [String] {
        var messages: [String] = []
        var pending: (OutputStreamKind, String)?
        func flush() {
            if let (kind, text) = pending {
                messages.append(OutputParams(stream: kind, text: text).message)
                pending = nil
            }
        }
        for item in items {
            switch item {
            case .message(let text):
                flush()
                messages.append(text)
            case .output(let kind, let text):
                if let (pendingKind, pendingText) = pending, pendingKind == kind,
                    pendingText.utf8.count + text.utf8.count <= maxTextBytes
                {
                    pending = (kind, pendingText + text)
                } else {
                    flush()
                    pending = (kind, text)
                }
            }
        }
        flush()
        return messages
    }
}
