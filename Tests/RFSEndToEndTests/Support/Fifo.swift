import Foundation

/// A named pipe a script writes one line to, for tests that must learn that something happened
/// inside a run they cannot see (its client is frozen): the test waits on the pipe, not a clock.
struct Fifo {
    let path: String

    init(in directory: URL, name: String = "signal.fifo") throws {
        path = directory.appendingPathComponent(name).path
        guard mkfifo(path, 0o600) == 0 else { throw TestFailure("mkfifo \(path) failed: errno \(errno)") }
    }

    /// What the first writer writes, on a thread of its own; nil when nothing arrives within
    /// `limit`. (Opened non-blocking: `poll` then waits for a writer's data; Linux reports no
    /// hang-up on a FIFO that never had a writer.)
    func read(atMost limit: Duration) async -> String? {
        let path = self.path
        let milliseconds = Int32(limit.components.seconds * 1000)
        return await withCheckedContinuation { continuation in
            Thread.detachNewThread {
                let descriptor = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC)
                guard descriptor >= 0 else { return continuation.resume(returning: nil) }
                defer { close(descriptor) }
                var waiting = pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0)
                guard poll(&waiting, 1, milliseconds) == 1, waiting.revents & Int16(POLLIN) != 0 else {
                    return continuation.resume(returning: nil)
                }
                var buffer = [UInt8](repeating: 0, count: 4096)
                let count = Glibc.read(descriptor, &buffer, buffer.count)
                continuation.resume(returning: count > 0 ? String(decoding: buffer[..<count], as: UTF8.self) : nil)
            }
        }
    }
}
