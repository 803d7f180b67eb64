import Foundation
import RFSProtocol
import Testing

extension EndToEnd {
    /// Runs of different clients execute at the same time, up to `--max-runs`, then queue in
    /// arrival order (DESIGN.md §6).
    @Suite(.timeLimit(.minutes(2)))
    struct ParallelRunTests {
        @Test("two clients' runs overlap: each waits for the other at a FIFO, which only a concurrent run can open")
        func runsOverlap() async throws {
            let worker = try await TestWorker.start(extraArguments: ["--max-runs", "2", "--warm-hosts", "2"])
            let directory = try Paths.temporaryDirectory()
            defer { try? FileManager.default.removeItem(at: directory) }
            let fifo = directory.appendingPathComponent("meet").path
            #expect(mkfifo(fifo, 0o600) == 0)
            // Opening a FIFO blocks until the other end is opened: both runs finish only if they
            // run at the same time.
            let writer = try Script("open(\(String(reflecting: fifo)), 'w').write('from the writer')\nprint('writer done')")
            let reader = try Script("print(open(\(String(reflecting: fifo))).read())")
            defer {
                writer.remove()
                reader.remove()
            }
            async let written = worker.run(writer.path, sources: [])
            async let read = worker.run(reader.path, sources: [])
            let (writerResult, readerResult) = try await (written, read)
            #expect(writerResult.stdout == "writer done\n", "stderr: \(writerResult.stderr)")
            #expect(readerResult.stdout == "from the writer\n", "stderr: \(readerResult.stderr)")
            _ = await worker.stop()
        }

        @Test("beyond --max-runs a run waits for a slot, and runs when one frees")
        func runsQueueBeyondTheLimit() async throws {
            let worker = try await TestWorker.start(extraArguments: ["--max-runs", "1", "--log-level", "info"])
            let directory = try Paths.temporaryDirectory()
            defer { try? FileManager.default.removeItem(at: directory) }
            let fifo = directory.appendingPathComponent("gate").path
            #expect(mkfifo(fifo, 0o600) == 0)
            let first = try Script("print('first started', flush=True)\nprint(open(\(String(reflecting: fifo))).read())")
            let second = try Script("print('second ran')")
            defer {
                first.remove()
                second.remove()
            }
            let blocking = try ChildProcess(["run", "--worker", worker.url, "--token-file", worker.tokenFile.path, first.path])
            blocking.closeStdin()
            #expect(await blocking.waitForLine(containing: "first started") != nil)
            let queued = try ChildProcess(["run", "--worker", worker.url, "--token-file", worker.tokenFile.path, second.path])
            queued.closeStdin()
            // The worker says the second run waits; only then does the test let the first one end.
            #expect(await worker.process.waitForStderrLine(containing: "run waits for a free slot") != nil)
            let handle = try #require(FileHandle(forWritingAtPath: fifo))
            handle.write(Data("released".utf8))
            try handle.close()
            #expect(await blocking.result().stdout == "first started\nreleased\n")
            #expect(await queued.result().stdout == "second ran\n")
            _ = await worker.stop()
        }
    }
}
