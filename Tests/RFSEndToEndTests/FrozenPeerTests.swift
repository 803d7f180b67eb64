import Foundation
import Testing

extension EndToEnd {
    /// Keepalive both ways: a frozen worker (SIGSTOP) makes `rfs run` exit 2 with one line naming
    /// the worker and the silence; a frozen client is dropped by the worker after its pong
    /// timeout, its run interrupted, while other clients' runs go on.
    @Suite(.timeLimit(.minutes(2)))
    struct FrozenPeerTests {
        /// Short keepalive settings, so a test waits seconds, not the default 30 + 20.
        static let keepalive = ["--ping-interval", "0.5", "--pong-timeout", "3"]

        @Test("rfs run exits 2 with one line naming the worker when the worker is frozen mid-run")
        func frozenWorker() async throws {
            let worker = try await TestWorker.start()
            let script = try Script("import time\nprint('ready', flush=True)\ntime.sleep(600)\n")
            defer { script.remove() }
            let run = try ChildProcess(
                ["run", "--worker", worker.url, "--token-file", worker.tokenFile.path] + Self.keepalive + [script.path])
            run.closeStdin()
            #expect(await run.waitForLine(containing: "ready") != nil)
            worker.process.signal(SIGSTOP)
            let frozen = ContinuousClock.now
            let result = await run.result()
            let took = ContinuousClock.now - frozen
            worker.process.signal(SIGCONT)
            _ = await worker.stop()

            #expect(result.status == 2)
            let lines = result.stderr.split(separator: "\n")
            #expect(lines.count == 1, "stderr: \(result.stderr)")
            let line = String(lines.first ?? "")
            #expect(line.hasPrefix("rfs: worker \(worker.url) stopped answering: no reply to keepalive pings for "), "\(line)")
            #expect(line.hasSuffix(" s"), "\(line)")
            // Given up after the pong timeout (3 s), checked at each ping (0.5 s): well under 15 s
            // even with both cores busy; never before the timeout.
            #expect(took >= .seconds(3) && took < .seconds(15), "exited \(took) after the worker froze")
        }

        @Test("the worker drops a frozen client after its pong timeout and interrupts its run; another client's run succeeds")
        func frozenClient() async throws {
            let worker = try await TestWorker.start(extraArguments: Self.keepalive + ["--log-level", "info"])
            let directory = try Paths.temporaryDirectory()
            defer { try? FileManager.default.removeItem(at: directory) }
            let interrupted = try Fifo(in: directory)
            let script = try Script(
                """
                import time
                print('ready', flush=True)
                try:
                    time.sleep(600)
                except KeyboardInterrupt:
                    with open(\(String(reflecting: interrupted.path)), 'w') as marker:
                        marker.write('interrupted')
                    raise
                """)
            defer { script.remove() }
            let frozen = try ChildProcess(["run", "--worker", worker.url, "--token-file", worker.tokenFile.path, script.path])
            frozen.closeStdin()
            #expect(await frozen.waitForLine(containing: "ready") != nil)
            async let dropped = worker.process.waitForStderrLine(containing: "Dropping WebSocket session: no pong")
            async let marker = interrupted.read(atMost: .seconds(60))
            frozen.signal(SIGSTOP)

            #expect(await dropped != nil, "the worker logged dropping the frozen session")
            #expect(await marker == "interrupted", "the frozen client's run saw KeyboardInterrupt")
            // The worker serves others while that client is still frozen.
            let other = try await worker.run(Paths.job("hello.py"), sources: [Paths.workspace])
            #expect(other.status == 0)
            #expect(other.stdout == "hello from the worker\n")
            #expect(Processes.isAlive(frozen.pid))

            frozen.signal(SIGCONT)
            let result = await frozen.result()
            _ = await worker.stop()
            // Its session is gone: the client reports the lost connection and exits 2.
            #expect(result.status == 2, "stderr: \(result.stderr)")
        }

        @Test("rfs serve exits 2 with one line naming the worker when the worker is frozen")
        func frozenWorkerUnderServe() async throws {
            let worker = try await TestWorker.start()
            let serve = try ChildProcess(
                ["serve", Paths.workspace, "--worker", worker.url, "--token-file", worker.tokenFile.path, "--log-level", "warning"]
                    + Self.keepalive)
            serve.closeStdin()
            #expect(await serve.waitForLine(containing: "serving") != nil)
            worker.process.signal(SIGSTOP)
            let result = await serve.result()
            worker.process.signal(SIGCONT)
            _ = await worker.stop()
            #expect(result.status == 2)
            let lines = result.stderr.split(separator: "\n")
            #expect(lines.count == 1, "stderr: \(result.stderr)")
            #expect(lines.first?.hasPrefix("rfs: worker \(worker.url) stopped answering: no reply to keepalive pings for ") == true)
        }
    }
}
