import Foundation
import RFSProtocol
import Testing

extension EndToEnd {
    /// What a script sees of its run host: one deadline for imports, a real `sys.executable`, child
    /// processes that work (or fail clearly), and a worker whose memory does not grow run by run.
    @Suite(.timeLimit(.minutes(3)))
    struct RunHostBehaviourTests {
        @Test("--fetch-timeout is the one deadline of an import, and it is honoured")
        func fetchTimeoutIsHonoured() async throws {
            let worker = try await TestWorker.start(extraArguments: ["--fetch-timeout", "1"])
            let client = try await RawClient(worker: worker)
            _ = try await client.call("set_connection_id", params: ["id": "silent"])
            let start = ContinuousClock.now
            try await client.startRun(
                id: "r", code: "import never_answered",
                context: ["connection_id": "silent", "top_level_names": ["never_answered"]])
            let (reply, _) = try await client.reply(to: "r")  // fetch_module requests go unanswered
            let elapsed = ContinuousClock.now - start
            let exception = reply["result"]?["exception"]
            #expect(exception?["type"] == "ImportError", "reply: \(reply)")
            #expect(exception?["message"]?.stringValue?.contains("no answer within 1 s (--fetch-timeout)") == true)
            // Python's own default would be 30 s; the worker's 1 s wins.
            #expect(elapsed < .seconds(25), "the import took \(elapsed)")
            await client.close()
            _ = await worker.stop()
        }

        @Test("a run may only import through its own connection")
        func fetchesAreConfinedToTheRunsConnection() async throws {
            let worker = try await TestWorker.start()
            let victim = try await RawClient(worker: worker)
            _ = try await victim.call("set_connection_id", params: ["id": "victim"])
            let attacker = try await RawClient(worker: worker)
            let code = """
                import _rfs_bridge
                try:
                    _rfs_bridge.request('victim', 'fetch_module', '{"module_name": "secret"}', None)
                except PermissionError as error:
                    print('refused:', error)
                """
            _ = try await attacker.call("set_connection_id", params: ["id": "attacker"])
            let (reply, output) = try await attacker.call(
                "run", params: ["code": .string(code), "context": ["connection_id": "attacker", "top_level_names": []]])
            #expect(reply["result"] == ["status": "ok"])
            #expect(output == "refused: the run may only import through its own connection ('attacker'), not 'victim'\n")
            // Without a context, a session with a connection id runs with its own (DESIGN.md §3).
            let (_, contextless) = try await attacker.call("run", params: ["code": .string(code)])
            #expect(contextless == output)
            #expect(await victim.fetched.isEmpty)
            await victim.close()
            await attacker.close()
            _ = await worker.stop()
        }

        @Test("sys.executable is a real Python of the embedded interpreter's version")
        func pythonExecutable() async throws {
            let script = try Script(
                """
                import subprocess, sys
                child = subprocess.run([sys.executable, '-c', 'import sys; print(sys.version_info[:2])'], capture_output=True, text=True)
                print(child.stdout.strip() == str(sys.version_info[:2]), sys.executable)
                """)
            defer { script.remove() }
            let result = try await rfs(["run", script.path])
            #expect(result.status == 0, "stderr: \(result.stderr)")
            #expect(result.stdout.hasPrefix("True /"), "stdout: \(result.stdout)")
        }

        @Test("multiprocessing works with fork and spawn; client code under spawn fails at once, clearly")
        func childProcesses() async throws {
            let source = try Script("def square(x):\n    return x * x\n", name: "client_helpers.py")
            let script = try Script(
                """
                import math, multiprocessing as mp
                from concurrent.futures import ProcessPoolExecutor
                from client_helpers import square
                def cube(x):
                    return x ** 3
                if __name__ == '__main__':
                    with mp.get_context('fork').Pool(2) as pool:
                        print('fork', pool.map(cube, range(4)), pool.map(square, range(4)))
                    with mp.get_context('spawn').Pool(2) as pool:
                        print('spawn', pool.map(math.factorial, range(5)))
                    with ProcessPoolExecutor(2, mp_context=mp.get_context('spawn')) as executor:
                        print('executor', list(executor.map(math.sqrt, [4, 9])))
                    with mp.get_context('spawn').Pool(2) as pool:
                        pool.map(cube, range(3))
                """)
            defer {
                source.remove()
                script.remove()
            }
            let result = try await rfs(["run", "--source", source.directory.path, script.path])
            #expect(result.stdout == "fork [0, 1, 8, 27] [0, 1, 4, 9]\nspawn [1, 1, 2, 6, 24]\nexecutor [2.0, 3.0]\n", "stderr: \(result.stderr)")
            #expect(result.status == 1)
            #expect(result.stderr.contains("function 'cube' is defined in the client's script \(script.path)"), "stderr: \(result.stderr)")
            #expect(result.stderr.contains("multiprocessing.get_context('fork')"))
        }

        @Test("the worker's memory, and that of its processes, stays flat over many runs")
        func memoryStaysFlat() async throws {
            // At info level the daemon logs each host's `host/ready` and its exit: the test waits
            // on those events, not on time.
            let worker = try await TestWorker.start(extraArguments: ["--warm-hosts", "2", "--log-level", "info"])
            let script = try Script("import json, decimal\nprint(json.dumps({'value': str(decimal.Decimal(1) / 7)}))")
            defer { script.remove() }
            var readyHosts = 0
            var exitedHosts = 0
            func settledTotals(afterRuns runs: Int) async -> (daemon: Int, total: Int) {
                // Idle: each run's host has exited, and the pool is refilled to its two warm hosts,
                // both ready (a host still initialising has not reached its size yet).
                while readyHosts < runs + 2 || exitedHosts < runs {
                    guard let line = await worker.process.waitForStderrLine(containing: "] run host ") else { break }
                    if line.hasSuffix("] run host ready") { readyHosts += 1 }
                    if line.hasSuffix("] run host exited") { exitedHosts += 1 }
                }
                #expect(Processes.children(of: worker.pid).count == 2)
                return (Processes.residentBytes(worker.pid) ?? 0, Processes.residentBytesWithChildren(worker.pid))
            }
            for _ in 0..<10 { #expect(try await worker.run(script.path, sources: []).status == 0) }
            let early = await settledTotals(afterRuns: 10)
            for _ in 0..<30 { #expect(try await worker.run(script.path, sources: []).status == 0) }
            let late = await settledTotals(afterRuns: 40)
            #expect(late.daemon - early.daemon < 8 << 20, "the daemon grew by \((late.daemon - early.daemon) >> 10) KiB over 30 runs")
            #expect(late.total - early.total < 16 << 20, "daemon and hosts grew by \((late.total - early.total) >> 10) KiB over 30 runs")
            _ = await worker.stop()
        }
    }
}

extension EndToEnd.RunHostBehaviourTests {
    @Test("a run uses the standard library of the linked libpython, whatever python3 comes first on PATH")
    func standardLibraryMatchesTheInterpreter() async throws {
        // A decoy installation: CPython's own search would take it for the prefix (it has the
        // landmark lib/python3.11/os.py next to a bin/python3), and its os.py refuses to load.
        let decoy = try Paths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: decoy) }
        let lib = decoy.appendingPathComponent("lib/python3.11")
        try FileManager.default.createDirectory(at: lib, withIntermediateDirectories: true)
        try "raise SystemExit('the decoy standard library was loaded')\n".write(
            to: lib.appendingPathComponent("os.py"), atomically: true, encoding: .utf8)
        let bin = decoy.appendingPathComponent("bin")
        try FileManager.default.createDirectory(at: bin, withIntermediateDirectories: true)
        let fake = bin.appendingPathComponent("python3").path
        try "#!/bin/sh\nexit 1\n".write(toFile: fake, atomically: true, encoding: .utf8)
        chmod(fake, 0o755)
        let script = try Script("import os, sys\nprint(os.__file__.startswith(sys.base_prefix), sys.base_prefix != \(String(reflecting: decoy.path)))")
        defer { script.remove() }
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin"
        let result = try await rfs(["run", script.path], environment: ["PATH": "\(bin.path):\(path)"])
        #expect(result.status == 0, "stderr: \(result.stderr)")
        #expect(result.stdout == "True True\n")
    }
}

extension EndToEnd.RunHostBehaviourTests {
    @Test("a run host's own logs go to the worker's stderr, never into the run's output")
    func hostLogsStayWithTheWorker() async throws {
        let worker = try await TestWorker.start(extraArguments: ["--log-level", "debug"])
        let result = try await worker.run(Paths.job("hello.py"), sources: [Paths.workspace])
        #expect(result.stdout == "hello from the worker\n")
        #expect(!result.stderr.contains("[host "), "stderr: \(result.stderr)")
        let stopped = await worker.stop()
        #expect(stopped.stderr.contains("[host ") && stopped.stderr.contains("run finished"), "the host logged to the worker's stderr")
    }
}

extension EndToEnd.RunHostBehaviourTests {
    @Test("a host may have only so many imports waiting for its client; more are refused at once")
    func fetchesInFlightAreBounded() async throws {
        let worker = try await TestWorker.start(extraArguments: ["--fetch-timeout", "5"])
        let client = try await RawClient(worker: worker)
        _ = try await client.call("set_connection_id", params: ["id": "slow"])
        // 80 threads each ask for a module; this client answers none of them. The first 64 wait
        // (for the 5 s fetch timeout) while the other 16 arrive and are refused.
        let code = """
            import threading, _rfs_bridge
            outcomes = []
            def ask(i):
                try:
                    _rfs_bridge.request('slow', 'fetch_module', '{"module_name": "m%d"}' % i, None)
                except Exception as error:
                    outcomes.append(type(error).__name__ + ': ' + str(error))
            threads = [threading.Thread(target=ask, args=(i,)) for i in range(80)]
            for thread in threads: thread.start()
            for thread in threads: thread.join()
            refused = sum('imports are waiting' in outcome for outcome in outcomes)
            timed_out = sum(outcome.startswith('TimeoutError') for outcome in outcomes)
            print(refused, timed_out)
            """
        try await client.startRun(id: "flood", code: code, context: ["connection_id": "slow", "top_level_names": ["m"]])
        let (reply, output) = try await client.reply(to: "flood")
        #expect(reply["result"] == ["status": "ok"], "reply: \(reply)")
        #expect(output == "16 64\n")
        await client.close()
        _ = await worker.stop()
    }
}
