import Foundation
import RFSProtocol
import Testing

extension EndToEnd {
    /// A run whose process dies ends only that run: `rfs run` exits as `python job.py` would, and
    /// the worker serves the next run (DESIGN.md §6).
    @Suite(.timeLimit(.minutes(2)))
    struct ContainmentTests {
        @Test(arguments: [
            ("import os\nprint('bye', flush=True)\nos._exit(3)", Int32(3), nil as String?),
            ("import ctypes\nctypes.string_at(0)", 128 + SIGSEGV, "SIGSEGV" as String?),
            ("import os\nos.abort()", 128 + SIGABRT, "SIGABRT"),
            ("import os, signal\nos.kill(os.getpid(), signal.SIGKILL)", 128 + SIGKILL, "SIGKILL"),
        ])
        func aDyingRunEndsOnlyItself(code: String, status: Int32, signal: String?) async throws {
            let worker = try await TestWorker.start()
            let script = try Script(code)
            defer { script.remove() }
            let result = try await worker.run(script.path, sources: [])
            #expect(result.status == status, "stderr: \(result.stderr)")
            let lines = result.stderr.split(separator: "\n").filter { $0.hasPrefix("rfs:") }
            if let signal {
                #expect(lines.count == 1 && lines[0].contains("killed by \(signal)"), "stderr: \(result.stderr)")
            } else {
                #expect(lines.isEmpty, "stderr: \(result.stderr)")
            }
            #expect(!result.stderr.contains("Backtrac"), "the Swift runtime's crash report must not reach the user")
            let next = try await worker.run(Paths.job("hello.py"), sources: [Paths.workspace])
            #expect(next.status == 0, "stderr: \(next.stderr)")
            #expect(next.stdout == "hello from the worker\n")
            #expect(await worker.stop().status == 0)
        }

        @Test(arguments: [
            ("sys.exit(2**100)", Int32(255)), ("sys.exit(-1)", 255), ("sys.exit(256)", 0), ("sys.exit(7)", 7),
            ("sys.exit(-2**100)", 255), ("sys.exit(None)", 0), ("sys.exit('message')", 1),
        ])
        func exitStatusesAreCPythons(call: String, status: Int32) async throws {
            let script = try Script("import sys\n\(call)")
            defer { script.remove() }
            let result = try await rfs(["run", script.path])
            #expect(result.status == status, "stderr: \(result.stderr)")
        }

        @Test("the run reply of a host that died says how, on the wire")
        func crashedResultShape() async throws {
            let worker = try await TestWorker.start()
            let client = try await RawClient(worker: worker)
            let (reply, _) = try await client.call("run", params: ["code": "import ctypes; ctypes.string_at(0)"])
            #expect(reply["result"] == ["status": "crashed", "signal": "SIGSEGV", "exit_code": .null])
            let (exited, _) = try await client.call("run", params: ["code": "import os; os._exit(9)"])
            #expect(exited["result"] == ["status": "crashed", "signal": .null, "exit_code": 9])
            let (after, output) = try await client.call("run", params: ["code": "print('still here')"])
            #expect(after["result"] == ["status": "ok"])
            #expect(output == "still here\n")
            await client.close()
            _ = await worker.stop()
        }

        @Test("an exception message with a lone surrogate arrives as a normal traceback")
        func loneSurrogate() async throws {
            let script = try Script("raise ValueError('bad \\udcff')")
            defer { script.remove() }
            let result = try await rfs(["run", script.path])
            #expect(result.status == 1)
            #expect(result.stderr.contains("ValueError: bad \\udcff"), "stderr: \(result.stderr)")
        }

        @Test("rfs host refuses to start by hand")
        func hostRefusesWithoutTheWorker() async throws {
            let result = try await rfs(["host"])
            #expect(result.status == 1)
            #expect(result.stderr.contains("not meant to be run by hand"), "stderr: \(result.stderr)")
        }
    }
}
