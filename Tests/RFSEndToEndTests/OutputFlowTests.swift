import Foundation
import RFSProtocol
import Testing

extension EndToEnd {
    /// A run's output arrives whole, in messages that fit, at the pace the client reads it: a client
    /// that stops reading pauses its own run and never grows the worker's memory (DESIGN.md §6).
    @Suite(.timeLimit(.minutes(3)))
    struct OutputFlowTests {
        @Test("100 MiB of output arrives whole and in order")
        func hundredMebibytes() async throws {
            let script = try Script(
                """
                import sys
                for i in range(100):
                    sys.stdout.write(f'{i:08d}' + 'x' * ((1 << 20) - 9) + '\\n')
                """)
            defer { script.remove() }
            let result = try await rfs(["run", script.path])
            #expect(result.status == 0, "stderr: \(result.stderr.prefix(2000))")
            #expect(result.stdout.utf8.count == 100 << 20)
            let lines = result.stdout.split(separator: "\n")
            #expect(lines.count == 100)
            #expect(lines.enumerated().allSatisfy { $0.element.hasPrefix(String(format: "%08d", $0.offset)) && $0.element.utf8.count == (1 << 20) - 1 })
        }

        @Test("12 MiB of control characters (6× larger once escaped) arrives whole")
        func controlCharacters() async throws {
            let script = try Script("import sys\nsys.stdout.write('\\x01' * (12 << 20))\nsys.stderr.write('\\x1b[0m' * 1000)")
            defer { script.remove() }
            let result = try await rfs(["run", script.path])
            #expect(result.status == 0)
            #expect(result.stdout.utf8.count == 12 << 20)
            #expect(result.stdout.utf8.allSatisfy { $0 == 1 })
            #expect(result.stderr == String(repeating: "\u{1b}[0m", count: 1000))
        }

        @Test("what the run's process and its children write to fd 1 and 2 reaches the client")
        func processLevelOutput() async throws {
            let script = try Script(
                """
                import os, subprocess, sys
                print('from print', flush=True)
                os.write(1, b'from fd 1\\n')
                os.write(2, b'from fd 2\\n')
                subprocess.run(['/bin/sh', '-c', 'echo from a child; echo child error >&2'], check=True)
                """)
            defer { script.remove() }
            let result = try await rfs(["run", script.path])
            #expect(result.status == 0, "stderr: \(result.stderr)")
            for line in ["from print", "from fd 1", "from a child"] {
                #expect(result.stdout.contains(line + "\n"), "stdout: \(result.stdout)")
            }
            for line in ["from fd 2", "child error"] {
                #expect(result.stderr.contains(line + "\n"), "stderr: \(result.stderr)")
            }
        }

        @Test("a client that never reads pauses its run; the worker's memory stays bounded, and it serves others")
        func stalledClientKeepsMemoryBounded() async throws {
            let worker = try await TestWorker.start()
            let directory = try Paths.temporaryDirectory()
            defer { try? FileManager.default.removeItem(at: directory) }
            let progress = directory.appendingPathComponent("progress").path
            // Tries to print 512 MiB, recording after each MiB how much went out.
            let code = """
                import os, sys
                chunk = 'y' * ((1 << 20) - 1) + '\\n'
                for i in range(512):
                    sys.stdout.write(chunk)
                    with open(\(String(reflecting: progress)), 'w') as f:
                        f.write(str(i + 1))
                """
            let baseline = Processes.residentBytes(worker.pid) ?? 0
            let stalled = try StalledClient(
                worker: worker,
                message: JSONValue.object(["jsonrpc": "2.0", "id": 1, "method": "run", "params": ["code": .string(code)]]).serialized())
            func mebibytesWritten() -> Int {
                (try? String(contentsOfFile: progress, encoding: .utf8)).flatMap { Int($0) } ?? 0
            }
            // Wait until the run is well under way (its first MiB is out)...
            while mebibytesWritten() < 1 { try await Task.sleep(for: .milliseconds(20)) }
            // ...then watch: if output were buffered, 512 MiB would be written (and held) within
            // these seconds; with backpressure, the script stops after what the buffers hold.
            var peakDaemon = 0
            var peakTotal = 0
            for _ in 0..<40 {
                try await Task.sleep(for: .milliseconds(100))
                peakDaemon = max(peakDaemon, Processes.residentBytes(worker.pid) ?? 0)
                peakTotal = max(peakTotal, Processes.residentBytesWithChildren(worker.pid))
                #expect(mebibytesWritten() < 64, "the script wrote \(mebibytesWritten()) MiB to a client that reads nothing")
            }
            #expect(peakDaemon - baseline < 64 << 20, "the worker grew by \((peakDaemon - baseline) >> 20) MiB")
            #expect(peakTotal < 512 << 20, "the worker and its hosts hold \(peakTotal >> 20) MiB")
            stalled.close()
            let next = try await worker.run(Paths.job("hello.py"), sources: [Paths.workspace])
            #expect(next.stdout == "hello from the worker\n")
            _ = await worker.stop()
        }
    }
}
