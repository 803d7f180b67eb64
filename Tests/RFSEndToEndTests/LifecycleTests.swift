import Foundation
import Testing

extension EndToEnd {
    /// How workers end: on SIGTERM with a run in progress, and when the `rfs run` that started a
    /// private worker is killed outright.
    @Suite(.timeLimit(.minutes(2)))
    struct WorkerLifecycleTests {
        @Test("SIGTERM interrupts a run that outlives the grace period, answers it, and exits 0")
        func gracefulShutdownInterruptsLongRun() async throws {
            let worker = try await TestWorker.start(extraArguments: ["--shutdown-grace", "0.2"])
            let spinning = try ChildProcess(
                ["run", "--worker", worker.url, "--token-file", worker.tokenFile.path, "--source", Paths.workspace,
                 Paths.job("forever.py")])
            spinning.closeStdin()
            #expect(await spinning.waitForLine(containing: "ready") != nil)
            worker.process.signal(SIGTERM)
            let client = await spinning.result()
            #expect(client.status == 1)
            #expect(client.stderr.contains("KeyboardInterrupt"))
            let stopped = await worker.stop()
            #expect(stopped.status == 0)
        }

        @Test("a private worker exits when the rfs run that started it is killed")
        func privateWorkerDiesWithItsParent() async throws {
            let run = try ChildProcess(["run", "--source", Paths.workspace, Paths.job("forever.py")])
            run.closeStdin()
            #expect(await run.waitForLine(containing: "ready") != nil)
            let workerPID = try #require(Self.children(of: run.pid).first)
            run.signal(SIGKILL)
            _ = await run.result()
            // `tail --pid` returns once that process is gone (it is not our child to wait for).
            let watcher = try ChildProcess(["--pid=\(workerPID)", "-f", "/dev/null"], executable: "/usr/bin/tail")
            watcher.closeStdin()
            #expect(await watcher.result().status == 0)
            #expect(kill(workerPID, 0) != 0)
        }

        /// Process ids whose parent is `pid`, read from /proc.
        static func children(of pid: Int32) -> [Int32] {
            let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
            return entries.compactMap { Int32($0) }.filter { candidate in
                guard let stat = try? String(contentsOfFile: "/proc/\(candidate)/stat", encoding: .utf8),
                    let close = stat.lastIndex(of: ")")
                else { return false }
                let fields = stat[stat.index(after: close)...].split(separator: " ")
                return fields.count > 1 && Int32(fields[1]) == pid
            }
        }
    }
}
