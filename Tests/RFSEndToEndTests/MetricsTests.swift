import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import Logging
import RFSTestSupport
import RFSTransport
import Testing

extension EndToEnd {
    /// `GET /metrics` of a real `rfs worker` (issue 10): behind the token on the main listener,
    /// without one on `--metrics-listen`'s loopback listener, scraped and parsed after real runs.
    @Suite(.timeLimit(.minutes(2)))
    struct MetricsTests {
        /// `rfs worker --listen 127.0.0.1:0 --metrics-listen 127.0.0.1:0`, its two addresses read
        /// from the lines it prints on stdout.
        struct ListeningWorker {
            let process: ChildProcess
            let url: String
            let metricsURL: String
            let mainMetricsURL: String
            let token: String
            let tokenFile: String

            static func start(folder: URL, extraArguments: [String]) async throws -> ListeningWorker {
                let token = (0..<4).map { _ in String(UInt64.random(in: 1 << 60..<UInt64.max), radix: 16) }.joined()
                let tokenFile = folder.appendingPathComponent("token").path
                try token.write(toFile: tokenFile, atomically: true, encoding: .utf8)
                try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: tokenFile)
                let process = try ChildProcess(
                    ["worker", "--listen", "127.0.0.1:0", "--token-file", tokenFile, "--metrics-listen", "127.0.0.1:0",
                     "--log-level", "warning"] + extraArguments)
                guard let listening = await process.waitForLine(containing: "rfs worker listening on "),
                    let metrics = await process.waitForLine(containing: "rfs worker metrics on "),
                    let url = listening.split(separator: " ").last.map(String.init),
                    let metricsURL = metrics.split(separator: " ").last.map(String.init)
                else {
                    process.signal(SIGTERM)
                    let result = await process.result()
                    throw TestFailure("worker did not report its listeners: status \(result.status), stderr: \(result.stderr)")
                }
                // ws://127.0.0.1:PORT/v1/session → http://127.0.0.1:PORT/metrics
                let main = url.replacingOccurrences(of: "ws://", with: "http://").replacingOccurrences(of: "/v1/session", with: "/metrics")
                return ListeningWorker(
                    process: process, url: url, metricsURL: metricsURL, mainMetricsURL: main, token: token, tokenFile: tokenFile)
            }

            func run(_ script: String, sources: [String]) async throws -> ChildProcess.Result {
                try await rfs(["run", "--worker", url, "--token-file", tokenFile] + sources.flatMap { ["--source", $0] } + [script])
            }

            func stop() async -> ChildProcess.Result {
                process.signal(SIGTERM)
                return await process.result()
            }
        }

        /// One HTTP GET; the status and the body.
        static func get(_ url: String, token: String? = nil) async throws -> (status: Int, body: String) {
            var request = URLRequest(url: URL(string: url)!)
            if let token { request.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization") }
            let (data, response) = try await URLSession.shared.data(for: request)
            return ((response as? HTTPURLResponse)?.statusCode ?? 0, String(decoding: data, as: UTF8.self))
        }

        /// Scrapes and parses a page that must be there.
        static func scrape(_ url: String, token: String? = nil) async throws -> PrometheusText {
            let (status, body) = try await get(url, token: token)
            guard status == 200 else { throw TestFailure("GET \(url): status \(status): \(body)") }
            return try PrometheusText(body)
        }

        static func total(_ page: PrometheusText, _ name: String) -> Double {
            page.samples(named: name).map(\.value).reduce(0, +)
        }

        @Test("runs that import a client's module show on /metrics: sessions, runs, duration, fetches, store misses then hits, refusals")
        func scrapedAfterRuns() async throws {
            let folder = try Paths.temporaryDirectory()
            defer { try? FileManager.default.removeItem(at: folder) }
            let client = folder.appendingPathComponent("client")
            try FileManager.default.createDirectory(at: client.appendingPathComponent("metrics_pkg"), withIntermediateDirectories: true)
            try "from . import part\nVALUE = part.PART * 2\n".write(
                to: client.appendingPathComponent("metrics_pkg/__init__.py"), atomically: false, encoding: .utf8)
            try "PART = 21\n".write(to: client.appendingPathComponent("metrics_pkg/part.py"), atomically: false, encoding: .utf8)
            let script = folder.appendingPathComponent("job.py").path
            try "import metrics_pkg\nprint(metrics_pkg.VALUE)\n".write(toFile: script, atomically: false, encoding: .utf8)

            let worker = try await ListeningWorker.start(
                folder: folder, extraArguments: ["--cache-dir", folder.appendingPathComponent("cache").path])
            // Before any run: every refusal reason and run outcome is there, at 0.
            let fresh = try await Self.scrape(worker.metricsURL)
            #expect(fresh.value("rfs_rejected_total", ["reason": "batch_too_large"]) == 0)
            #expect(fresh.value("rfs_runs_total", ["outcome": "ok"]) == 0)
            #expect(fresh.value("rfs_store_misses_total") == 0)

            let first = try await worker.run(script, sources: [client.path])
            #expect(first.status == 0 && first.stdout == "42\n", "stderr: \(first.stderr)")

            // The main listener: 401 without the token (or with a wrong one), the page with it.
            #expect(try await Self.get(worker.mainMetricsURL).status == 401)
            #expect(try await Self.get(worker.mainMetricsURL, token: "wrong-token-0123456789").status == 401)
            let afterFirst = try await Self.scrape(worker.mainMetricsURL, token: worker.token)
            #expect((afterFirst.value("rfs_sessions_opened_total") ?? 0) >= 1)
            #expect(afterFirst.value("rfs_runs_total", ["outcome": "ok"]) == 1)
            #expect(afterFirst.value("rfs_runs_total", ["outcome": "exception"]) == 0)
            #expect(afterFirst.value("rfs_run_duration_seconds_count") == 1)
            #expect((afterFirst.value("rfs_run_duration_seconds_sum") ?? 0) > 0)
            #expect((afterFirst.value("rfs_fetches_total", ["kind": "tree_read"]) ?? 0) > 0)
            #expect((afterFirst.value("rfs_fetch_bytes_total", ["kind": "tree_read"]) ?? 0) > 0)
            let missesFirst = afterFirst.value("rfs_store_misses_total") ?? 0
            let hitsFirst = afterFirst.value("rfs_store_hits_total") ?? 0
            #expect(missesFirst > 0)
            let fetchesFirst = Self.total(afterFirst, "rfs_fetches_total")

            // The same run again: every file is in the store now.
            let second = try await worker.run(script, sources: [client.path])
            #expect(second.status == 0 && second.stdout == "42\n", "stderr: \(second.stderr)")
            let afterSecond = try await Self.scrape(worker.metricsURL)
            #expect(afterSecond.value("rfs_runs_total", ["outcome": "ok"]) == 2)
            #expect(afterSecond.value("rfs_run_duration_seconds_count") == 2)
            #expect((afterSecond.value("rfs_store_hits_total") ?? 0) > hitsFirst)
            #expect(afterSecond.value("rfs_store_misses_total") == missesFirst)
            #expect(Self.total(afterSecond, "rfs_fetches_total") == fetchesFirst)
            #expect((afterSecond.value("rfs_sessions_opened_total") ?? 0) >= 2)

            // A message that is not JSON is refused by the session's JSON-RPC peer, and counted.
            let session = try await WebSocketClient.connect(
                configuration: WebSocketClientConfiguration(url: worker.url, token: worker.token), logger: Logger(label: "metrics-test"))
            try await session.send("{this is not json")
            var replies = session.messages.makeAsyncIterator()
            let reply = try await replies.next()
            #expect(reply?.contains("-32700") == true)
            await session.close()
            let afterRefusal = try await Self.scrape(worker.metricsURL)
            #expect(afterRefusal.value("rfs_rejected_total", ["reason": "parse_error"]) == 1)
            #expect(afterRefusal.value("rfs_rejected_total", ["reason": "method_not_found"]) == 0)

            let stopped = await worker.stop()
            #expect(stopped.status == 0, "stderr: \(stopped.stderr)")
        }

        @Test("--metrics-listen on an address other machines can reach is refused at start, naming loopback")
        func metricsListenMustBeLoopback() async throws {
            for address in ["0.0.0.0:0", "192.0.2.1:9100", "[::]:0"] {
                let result = try await rfs(
                    ["worker", "--listen", "127.0.0.1:0", "--no-auth", "--metrics-listen", address, "--log-level", "warning"])
                #expect(result.status == 2, "\(address): \(result.stderr)")
                #expect(result.stderr.contains("--metrics-listen must be a loopback address"), "\(address): \(result.stderr)")
                #expect(result.stdout.isEmpty)
            }
        }
    }
}
