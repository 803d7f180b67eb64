import Foundation
import RFSProtocol
import Testing

extension EndToEnd {
    /// `--isolation run|session|shared` (DESIGN.md §6): what one run leaves behind, and who sees it.
    @Suite(.timeLimit(.minutes(2)))
    struct IsolationModeTests {
        /// Changes every kind of global state a script can touch, starts a daemon thread that keeps
        /// printing, and prints its pid.
        static let polluter = """
            import builtins, os, sys, threading, time, zoneinfo
            os.environ['RFS_LEAK'] = 'env'
            builtins.rfs_leak = 'builtins'
            sys.modules['rfs_leak_module'] = sys
            zoneinfo.reset_tzpath(['/rfs/leak'])
            def chatter():
                while True:
                    print('LEAKED OUTPUT', flush=True)
                    time.sleep(0.001)
            threading.Thread(target=chatter, daemon=True).start()
            print(f'pid {os.getpid()}', flush=True)
            """

        /// Reports what it finds of the polluter's state.
        static let inspector = """
            import builtins, os, sys, zoneinfo
            print('env', os.environ.get('RFS_LEAK'))
            print('builtins', getattr(builtins, 'rfs_leak', None))
            print('module', 'rfs_leak_module' in sys.modules)
            print('tzpath', zoneinfo.TZPATH)
            print(f'pid {os.getpid()}', flush=True)
            """

        static func pid(in output: String) -> Int32? {
            output.split(separator: "\n").first { $0.hasPrefix("pid ") }.flatMap { Int32($0.dropFirst(4)) }
        }

        @Test("run isolation: nothing of one client's run reaches the next run, whoever runs it")
        func runIsolationLeaksNothing() async throws {
            let worker = try await TestWorker.start()
            let polluter = try Script(Self.polluter)
            let inspector = try Script(Self.inspector)
            defer {
                polluter.remove()
                inspector.remove()
            }
            let first = try await worker.run(polluter.path, sources: [])
            #expect(first.status == 0, "stderr: \(first.stderr)")
            let firstPID = try #require(Self.pid(in: first.stdout))
            // The first run's process, with its chattering thread, is gone before the next run.
            #expect(await Processes.waitUntilGone(firstPID, atMost: .seconds(10)))
            let second = try await worker.run(inspector.path, sources: [])
            #expect(second.status == 0, "stderr: \(second.stderr)")
            #expect(second.stdout.contains("env None\nbuiltins None\nmodule False\n"), "stdout: \(second.stdout)")
            #expect(!second.stdout.contains("/rfs/leak"))
            #expect(!second.stdout.contains("LEAKED OUTPUT"))
            #expect(Self.pid(in: second.stdout) != firstPID)
            _ = await worker.stop()
        }

        @Test("session isolation: a session's runs share one interpreter; another session has its own")
        func sessionIsolation() async throws {
            let worker = try await TestWorker.start(extraArguments: ["--isolation", "session"])
            let console = try await RawClient(worker: worker)
            let (set, _) = try await console.call("run", params: ["code": "import os, builtins\nbuiltins.rfs_counter = 41\nprint(os.getpid())"])
            #expect(set["result"] == ["status": "ok"])
            let (_, again) = try await console.call("run", params: ["code": "import os, builtins\nbuiltins.rfs_counter += 1\nprint(builtins.rfs_counter, os.getpid())"])
            let (_, firstPID) = try await console.call("run", params: ["code": "import os; print(os.getpid())"])
            #expect(again == "42 \(firstPID)")
            let other = try await RawClient(worker: worker)
            let (_, elsewhere) = try await other.call(
                "run", params: ["code": "import os, builtins\nprint(getattr(builtins, 'rfs_counter', None), os.getpid())"])
            #expect(elsewhere.hasPrefix("None "))
            #expect(!elsewhere.hasSuffix(" \(firstPID)"))
            await console.close()
            await other.close()
            _ = await worker.stop()
        }

        @Test("shared isolation: one interpreter for everybody, with the reference plugin's semantics")
        func sharedIsolation() async throws {
            let worker = try await TestWorker.start(extraArguments: ["--isolation", "shared"])
            let first = try await RawClient(worker: worker)
            _ = try await first.call("run", params: ["code": "import builtins; builtins.rfs_shared = 'seen'"])
            let (_, firstPID) = try await first.call("run", params: ["code": "import os; print(os.getpid())"])
            await first.close()
            let second = try await RawClient(worker: worker)
            let (_, seen) = try await second.call("run", params: ["code": "import builtins, os; print(builtins.rfs_shared, os.getpid())"])
            #expect(seen == "seen \(firstPID)")
            await second.close()
            // Same-named packages of two clients: each run evicts the other's (old ∪ new names).
            for (source, expected) in [(Paths.workspace, "a"), (Paths.workspaceB, "b"), (Paths.workspace, "a")] {
                let result = try await worker.run(Paths.job("who.py"), sources: [source])
                #expect(result.status == 0, "stderr: \(result.stderr)")
                #expect(result.stdout == "\(expected)\n")
            }
            _ = await worker.stop()
        }

        @Test("initialize names the isolation mode and the run limit")
        func capabilityNamesTheMode() async throws {
            let worker = try await TestWorker.start(extraArguments: ["--isolation", "session", "--max-runs", "3"])
            let client = try await RawClient(worker: worker)
            let (reply, _) = try await client.call("initialize", params: ["protocol_versions": [1]])
            #expect(reply["result"]?["capabilities"]?["isolation"] == ["mode": "session", "max_runs": 3])
            await client.close()
            _ = await worker.stop()
        }
    }
}
