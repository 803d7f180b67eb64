import Foundation
import RFSProtocol
import Testing

extension EndToEnd {
    /// No script can hold the worker: every route of cancellation interrupts the run with
    /// KeyboardInterrupt — also in `time.sleep`, lock waits and queue gets — and a run that ignores
    /// it is killed, with whatever it started, after `--cancel-grace` (DESIGN.md §6).
    @Suite(.timeLimit(.minutes(2)))
    struct CancelEscalationTests {
        /// Blocking calls that a pending-call interrupt could not end; SIGINT to the run's thread does.
        static let blockingCalls = [
            "time.sleep(600)",
            "threading.Event().wait()",
            "queue.Queue().get()",
            "lock = threading.Lock(); lock.acquire(); lock.acquire()",
        ]

        /// `ready` is printed inside the `try`: the test interrupts as soon as it reads `ready`,
        /// which may be before print() has returned (its write checks for signals as CPython's
        /// does), and a KeyboardInterrupt raised there must reach the handler too.
        static func blockingScript(_ call: String) -> String {
            """
            import queue, threading, time
            try:
                print('ready', flush=True)
                \(call)
            except KeyboardInterrupt:
                print('interrupted', flush=True)
                raise
            """
        }

        /// Ignores every interrupt, also one that lands while it prints its pid (which it does
        /// first, inside the `try`, so the test can see the host die).
        static let stubborn = """
            import os, time
            announced = False
            while True:
                try:
                    if not announced:
                        announced = True
                        print(f'pid {os.getpid()}', flush=True)
                    time.sleep(600)
                except KeyboardInterrupt:
                    print('ignored', flush=True)
            """

        @Test("Ctrl-C ends a run blocked in a system call (exit 130) and the worker serves the next run")
        func ctrlCEndsABlockingCall() async throws {
            let worker = try await TestWorker.start()
            let script = try Script(Self.blockingScript("time.sleep(600)"))
            defer { script.remove() }
            let run = try ChildProcess(["run", "--worker", worker.url, "--token-file", worker.tokenFile.path, script.path])
            run.closeStdin()
            #expect(await run.waitForLine(containing: "ready") != nil)
            run.signal(SIGINT)
            let result = await run.result()
            #expect(result.status == 130)
            #expect(result.stdout.contains("interrupted"), "the script saw KeyboardInterrupt: \(result.stdout)")
            let after = try await worker.run(Paths.job("hello.py"), sources: [Paths.workspace])
            #expect(after.stdout == "hello from the worker\n")
            _ = await worker.stop()
        }

        @Test(arguments: blockingCalls)
        func cancelRequestEndsABlockingCall(call: String) async throws {
            let worker = try await TestWorker.start()
            let client = try await RawClient(worker: worker)
            try await client.startRun(id: "blocked", code: Self.blockingScript(call))
            _ = try await client.output(until: "ready")
            try await client.cancel("blocked")
            let (reply, output) = try await client.reply(to: "blocked")
            #expect(reply["error"]?["code"] == -32800)
            #expect(output.contains("interrupted"), "output: \(output)")
            let (again, printed) = try await client.call("run", params: ["code": "print(6 * 7)"])
            #expect(again["result"] == ["status": "ok"])
            #expect(printed == "42\n")
            await client.close()
            _ = await worker.stop()
        }

        @Test("a run that ignores interrupts is killed after the cancel grace; the session goes on")
        func stubbornRunIsKilled() async throws {
            let worker = try await TestWorker.start(extraArguments: ["--cancel-grace", "1"])
            let client = try await RawClient(worker: worker)
            try await client.startRun(id: "stubborn", code: Self.stubborn)
            let pid = try await Self.hostPID(client)
            try await client.cancel("stubborn")
            let (reply, output) = try await client.reply(to: "stubborn")
            #expect(reply["error"]?["code"] == -32800)
            #expect(output.contains("ignored"), "the script was interrupted first: \(output)")
            #expect(await Processes.waitUntilGone(pid, atMost: .seconds(30)))
            let (again, printed) = try await client.call("run", params: ["code": "print('next')"])
            #expect(again["result"] == ["status": "ok"])
            #expect(printed == "next\n")
            await client.close()
            _ = await worker.stop()
        }

        @Test(
            "a client that disconnects during a stubborn run gets it interrupted, then killed; the next client is served",
            arguments: ["run", "session"])
        func lostClient(isolation: String) async throws {
            let worker = try await TestWorker.start(extraArguments: ["--cancel-grace", "1", "--isolation", isolation])
            let marker = try Paths.temporaryDirectory()
            defer { try? FileManager.default.removeItem(at: marker) }
            let interrupted = marker.appendingPathComponent("interrupted").path
            let quitter = try await RawClient(worker: worker)
            try await quitter.startRun(
                id: "lost",
                code: Self.stubborn.replacingOccurrences(
                    of: "print('ignored', flush=True)", with: "open(\(String(reflecting: interrupted)), 'w').close()"))
            let pid = try await Self.hostPID(quitter)
            await quitter.close()
            #expect(await Processes.waitUntilGone(pid, atMost: .seconds(30)))
            #expect(FileManager.default.fileExists(atPath: interrupted), "the run saw KeyboardInterrupt before it was killed")
            let next = try await worker.run(Paths.job("hello.py"), sources: [Paths.workspace])
            #expect(next.stdout == "hello from the worker\n")
            _ = await worker.stop()
        }

        @Test("SIGTERM ends the worker within both graces, whatever the run does, and the run gets a reply")
        func shutdownWithAStubbornRun() async throws {
            let worker = try await TestWorker.start(extraArguments: ["--shutdown-grace", "1", "--cancel-grace", "1"])
            let client = try await RawClient(worker: worker)
            try await client.startRun(id: "s", code: Self.stubborn)
            let pid = try await Self.hostPID(client)
            let start = ContinuousClock.now
            worker.process.signal(SIGTERM)
            let (reply, _) = try await client.reply(to: "s")
            #expect(reply["result"]?["status"] == "crashed", "reply: \(reply)")
            #expect(reply["result"]?["reason"] == "cancel_grace")
            let status = await worker.process.result().status
            let elapsed = ContinuousClock.now - start
            #expect(status == 0)
            // 1 s + 1 s of grace; the rest is slack for a loaded machine, far below "forever".
            #expect(elapsed < .seconds(20), "the worker took \(elapsed) to stop")
            #expect(await Processes.waitUntilGone(pid, atMost: .seconds(10)))
            await client.close()
        }

        @Test("--run-timeout interrupts a long run with a message that names the limit")
        func runTimeout() async throws {
            let worker = try await TestWorker.start(extraArguments: ["--run-timeout", "1", "--cancel-grace", "1"])
            let polite = try Script(Self.blockingScript("time.sleep(600)"))
            defer { polite.remove() }
            let interrupted = try await worker.run(polite.path, sources: [])
            #expect(interrupted.status == 1)
            #expect(interrupted.stderr.contains("KeyboardInterrupt: the run exceeded the worker's run timeout (--run-timeout 1 s)"),
                "stderr: \(interrupted.stderr)")
            let stubborn = try Script(Self.stubborn)
            defer { stubborn.remove() }
            let killed = try await worker.run(stubborn.path, sources: [])
            #expect(killed.status == 128 + SIGKILL)
            #expect(killed.stderr.contains("rfs: the run exceeded the worker's run timeout and did not stop within 1 s"),
                "stderr: \(killed.stderr)")
            _ = await worker.stop()
        }

        @Test("--run-memory kills a run that outgrows it, with a line that names the limit")
        func runMemory() async throws {
            let worker = try await TestWorker.start(extraArguments: ["--run-memory", "200M"])
            let script = try Script(
                """
                chunks = []
                while True:
                    chunks.append(bytearray(32 << 20))
                """)
            defer { script.remove() }
            let result = try await worker.run(script.path, sources: [])
            #expect(result.status == 128 + SIGKILL)
            #expect(result.stderr.contains("more than the worker's limit of 200 MiB (--run-memory)"), "stderr: \(result.stderr)")
            let next = try await worker.run(Paths.job("hello.py"), sources: [Paths.workspace])
            #expect(next.stdout == "hello from the worker\n")
            _ = await worker.stop()
        }

        /// Reads output until the stubborn script's `pid N` line.
        static func hostPID(_ client: RawClient) async throws -> Int32 {
            var output = ""
            while let message = try await client.receive() {
                output += message["params"]?["text"]?.stringValue ?? ""
                if let line = output.split(separator: "\n").first(where: { $0.hasPrefix("pid ") }), output.contains("\n"),
                    let pid = Int32(line.dropFirst(4))
                {
                    return pid
                }
            }
            throw TestFailure("no pid line in \(output)")
        }
    }
}
