import CRFSSystem
import Foundation
import RFSProtocol
import RFSWire
import Synchronization
import Testing

@testable import RFSHost

/// The control channel's writer: output waits while the worker does not read (memory stays
/// bounded whatever the script prints), an interrupt ends the wait, and output queued while the
/// writer is behind goes out merged, within the message limit.
@Suite("Control writer", .timeLimit(.minutes(1)))
struct ControlWriterTests {
    final class Counter: Sendable {
        private let value = Atomic<Int>(0)
        func add(_ amount: Int) { value.wrappingAdd(amount, ordering: .relaxed) }
        var current: Int { value.load(ordering: .relaxed) }
    }

    static func socketpair() throws -> (Int32, Int32) {
        var fds: [Int32] = [-1, -1]
        guard fds.withUnsafeMutableBufferPointer({ rfs_socketpair($0.baseAddress!) }) == 0 else {
            throw TestFailure("socketpair failed")
        }
        return (fds[0], fds[1])
    }

    /// Reads one frame from the worker's end and returns its output text ("" for other messages).
    static func readOutput(_ descriptor: Int32) throws -> (kind: String, text: String) {
        guard case .frame(let frame) = FrameIO.readFrame(descriptor, maxPayload: 1 << 22) else {
            throw TestFailure("channel closed")
        }
        guard case .single(.success(.notification(let notice))) = JSONRPCDecoder.decode(frame),
            let output = try? OutputParams(json: notice.params)
        else { return ("", "") }
        return (output.stream.rawValue, output.text)
    }

    @Test("a script that prints faster than the worker reads is held to the queue limit")
    func backpressure() async throws {
        let (host, worker) = try Self.socketpair()
        let queueLimit = 64 << 10
        let writer = ControlWriter(descriptor: host, maxMessageSize: 1 << 20, maxQueuedBytes: queueLimit) {}
        let produced = Counter()
        let line = String(repeating: "x", count: 1023) + "\n"
        let total = 32 << 20
        let producer = Thread {
            while produced.current < total {
                writer.writeOutput(.stdout, line)
                produced.add(line.utf8.count)
            }
        }
        producer.start()
        // Kernel buffers of a socketpair hold at most a few hundred KiB each way.
        let kernelSlack = 4 << 20
        var consumed = 0
        while consumed < total {
            let ahead = produced.current - consumed
            #expect(ahead <= queueLimit + kernelSlack + line.utf8.count, "the writer ran \(ahead) bytes ahead of the reader")
            consumed += try Self.readOutput(worker).text.utf8.count
        }
        #expect(consumed == total)
        close(worker)
    }

    @Test("wake() releases a write that waits for a reader that never comes")
    func wakeEndsTheWait() async throws {
        let (host, worker) = try Self.socketpair()
        let writer = ControlWriter(descriptor: host, maxMessageSize: 1 << 20, maxQueuedBytes: 1024) {}
        let stop = Atomic<Bool>(false)
        let producer = Task.detached {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                Thread.detachNewThread {
                    // Nobody reads: the kernel buffers fill, then the queue, then this waits.
                    let chunk = String(repeating: "y", count: 4096)
                    while !stop.load(ordering: .relaxed) {
                        writer.writeOutput(.stderr, chunk)
                    }
                    continuation.resume()
                }
            }
        }
        while writer.waitingWriters == 0 { await Task.yield() }
        stop.store(true, ordering: .relaxed)
        writer.wake()
        await producer.value
        close(worker)
    }

    @Test("output queued while the writer is behind is merged per stream, in order")
    func coalescing() async throws {
        let (host, worker) = try Self.socketpair()
        let writer = ControlWriter(descriptor: host, maxMessageSize: 1 << 20, maxQueuedBytes: 64 << 20) {}
        // 8 MiB nobody reads yet: far more than the kernel buffers, so the writer thread is stuck
        // in write() while the lines below are queued behind it.
        let filler = String(repeating: "f", count: 1 << 20)
        for _ in 0..<8 { writer.writeOutput(.stdout, filler) }
        for index in 0..<200 {
            writer.writeOutput(index % 50 < 25 ? .stdout : .stderr, "line \(index)\n")
        }
        writer.send(#"{"jsonrpc":"2.0","method":"marker"}"#)
        var stdout = "", stderr = "", lineMessages = 0
        while true {
            let (kind, text) = try Self.readOutput(worker)
            if kind.isEmpty { break }  // the marker: everything before it has arrived
            if !text.hasPrefix("f") || text.contains("line") { lineMessages += 1 }
            if kind == "stdout" { stdout += text } else { stderr += text }
        }
        let lines = (0..<200).map { "line \($0)\n" }
        #expect(stdout == String(repeating: filler, count: 8) + lines.enumerated().filter { $0.offset % 50 < 25 }.map(\.element).joined())
        #expect(stderr == lines.enumerated().filter { $0.offset % 50 >= 25 }.map(\.element).joined())
        // 200 writes in 8 runs of one stream each: merged into about one message per run (a run
        // splits where the writer thread happened to take the queue while it was being filled).
        #expect(lineMessages <= 16, "\(lineMessages) messages for 8 runs of lines")
        close(worker)
    }
}
