import CRFSSystem
import Foundation
import RFSWire

/// Writes a run's output to this process's stdout and stderr from a thread of its own.
///
/// A terminal or pipe can be slow (`rfs run job.py | less`): writing to it may block, which must
/// never happen on an event loop or Swift's pool. ``write(_:_:)`` queues the text and suspends
/// while more than `maxQueuedBytes` wait; since the session reads its next message only after
/// that, a slow reader of our stdout slows the run down instead of growing our memory.
public final class OutputWriter: @unchecked Sendable {
    private let condition = NSCondition()
    // Guarded by `condition`:
    private var queue: [(OutputStreamKind, String)] = []
    private var queuedBytes = 0
    private var roomWaiters: [CheckedContinuation<Void, Never>] = []
    private var drainWaiters: [CheckedContinuation<Void, Never>] = []
    private var writing = false
    private let maxQueuedBytes: Int

    public init(maxQueuedBytes: Int = 4 << 20) {
        self.maxQueuedBytes = maxQueuedBytes
        let thread = Thread { [self] in
            Thread.current.name = "rfs-output"
            self.loop()
        }
        thread.start()
    }

    /// Queues `text`; suspends (never blocks) while the queue is full.
    public func write(_ kind: OutputStreamKind, _ text: String) async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            condition.lock()
            queue.append((kind, text))
            queuedBytes += text.utf8.count
            condition.broadcast()
            if queuedBytes > maxQueuedBytes {
                roomWaiters.append(continuation)
                condition.unlock()
            } else {
                condition.unlock()
                continuation.resume()
            }
        }
    }

    /// Waits until everything queued so far has been written.
    public func flush() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            condition.lock()
            if queue.isEmpty && !writing {
                condition.unlock()
                continuation.resume()
            } else {
                drainWaiters.append(continuation)
                condition.unlock()
            }
        }
    }

    private func loop() {
        while true {
            condition.lock()
            while queue.isEmpty {
                condition.wait()
            }
            let items = queue
            queue.removeAll(keepingCapacity: true)
            writing = true
            condition.unlock()

            for (kind, text) in items {
                Self.writeAll(kind == .stderr ? STDERR_FILENO : STDOUT_FILENO, text)
            }

            condition.lock()
            writing = false
            queuedBytes -= items.reduce(0) { $0 + $1.1.utf8.count }
            var resumed: [CheckedContinuation<Void, Never>] = []
            if queuedBytes <= maxQueuedBytes {
                resumed = roomWaiters
                roomWaiters.removeAll()
            }
            if queue.isEmpty {
                resumed += drainWaiters
                drainWaiters.removeAll()
            }
            condition.unlock()
            for waiter in resumed { waiter.resume() }
        }
    }

    private static func writeAll(_ descriptor: Int32, _ text: String) {
        var text = text
        // A closed stdout (EPIPE) leaves nothing more to show; the run goes on.
        _ = text.withUTF8 { rfs_write_all(descriptor, $0.baseAddress, $0.count) }
    }
}
