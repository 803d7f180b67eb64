import RFSProtocol
import RFSTestSupport
import RFSWire
@testable import RFSWorker
import Testing

/// The worker's recording points as Prometheus text (issue 10): each worker its own registry,
/// every known series present from the start.
@Suite struct WorkerMetricsTests {
    @Test("a new worker's page has every refusal reason, run outcome and fetch kind at 0, and no store series")
    func seriesExistFromTheStart() throws {
        let page = try PrometheusText(WorkerMetrics().exposition())
        for reason in RFSMetrics.Rejection.allCases {
            #expect(page.value(RFSMetrics.rejected, ["reason": reason.rawValue]) == 0, "reason \(reason)")
        }
        for outcome in RFSMetrics.RunOutcome.allCases {
            #expect(page.value(RFSMetrics.runs, ["outcome": outcome.rawValue]) == 0, "outcome \(outcome)")
        }
        for kind in RFSMetrics.FetchKind.allCases {
            #expect(page.value(RFSMetrics.fetches, ["kind": kind.rawValue]) == 0)
            #expect(page.value(RFSMetrics.fetchBytes, ["kind": kind.rawValue]) == 0)
        }
        #expect(page.value(RFSMetrics.sessionsOpen) == 0)
        #expect(page.value(RFSMetrics.sessionsOpened) == 0)
        #expect(page.value(RFSMetrics.runDuration + "_count") == 0)
        #expect(page.samples(named: RFSMetrics.storeHits).isEmpty)
        #expect(page.samples(named: RFSMetrics.storeMisses).isEmpty)
        #expect(page.types[RFSMetrics.sessionsOpen] == "gauge")
        #expect(page.types[RFSMetrics.runs] == "counter")
        #expect(page.types[RFSMetrics.runDuration] == "histogram")
    }

    @Test("sessions, runs with their durations, fetches and bytes, and store lookups appear as recorded")
    func recordingPoints() throws {
        let metrics = WorkerMetrics()
        metrics.sessionOpened()
        metrics.sessionOpened()
        metrics.sessionOpened()
        metrics.sessionClosed()
        metrics.runFinished(.ok, duration: .milliseconds(1500))
        metrics.runFinished(.ok, duration: .milliseconds(20))
        metrics.runFinished(.crashed, duration: .seconds(400))
        metrics.fetched(.treeRead, bytes: 1000)
        metrics.fetched(.treeRead, bytes: 24)
        metrics.fetched(.fetchModule, bytes: 7)
        metrics.storeAvailable()
        metrics.recordStoreLookups(hits: 5, misses: 2)
        metrics.recordStoreLookups(hits: 1, misses: 0)

        let page = try PrometheusText(metrics.exposition())
        #expect(page.value(RFSMetrics.sessionsOpen) == 2)
        #expect(page.value(RFSMetrics.sessionsOpened) == 3)
        #expect(page.value(RFSMetrics.runs, ["outcome": "ok"]) == 2)
        #expect(page.value(RFSMetrics.runs, ["outcome": "crashed"]) == 1)
        #expect(page.value(RFSMetrics.runs, ["outcome": "exception"]) == 0)
        let duration = RFSMetrics.runDuration
        #expect(page.value(duration + "_count") == 3)
        #expect(abs((page.value(duration + "_sum") ?? 0) - 401.52) < 1e-6)
        // Buckets in seconds, cumulative: 20 ms under 0.05 s, 1.5 s under 2.5 s, 400 s under 900 s.
        #expect(page.value(duration + "_bucket", ["le": "0.05"]) == 1)
        #expect(page.value(duration + "_bucket", ["le": "1.0"]) == 1)
        #expect(page.value(duration + "_bucket", ["le": "2.5"]) == 2)
        #expect(page.value(duration + "_bucket", ["le": "300.0"]) == 2)
        #expect(page.value(duration + "_bucket", ["le": "900.0"]) == 3)
        #expect(page.value(duration + "_bucket", ["le": "+Inf"]) == 3)
        #expect(page.value(RFSMetrics.fetches, ["kind": "tree_read"]) == 2)
        #expect(page.value(RFSMetrics.fetchBytes, ["kind": "tree_read"]) == 1024)
        #expect(page.value(RFSMetrics.fetches, ["kind": "fetch_module"]) == 1)
        #expect(page.value(RFSMetrics.fetchBytes, ["kind": "fetch_module"]) == 7)
        #expect(page.value(RFSMetrics.storeHits) == 6)
        #expect(page.value(RFSMetrics.storeMisses) == 2)
    }

    @Test("two workers in one process count apart")
    func registriesAreSeparate() throws {
        let one = WorkerMetrics()
        let two = WorkerMetrics()
        one.sessionOpened()
        one.runFinished(.exit, duration: .seconds(1))
        #expect(try PrometheusText(one.exposition()).value(RFSMetrics.sessionsOpened) == 1)
        let other = try PrometheusText(two.exposition())
        #expect(other.value(RFSMetrics.sessionsOpened) == 0)
        #expect(other.value(RFSMetrics.runs, ["outcome": "exit"]) == 0)
    }

    @Test("fetch kinds come from the relayed method; other methods are not counted")
    func fetchKindOfMethod() {
        #expect(RFSMetrics.FetchKind(method: WireMethod.fetchModule) == .fetchModule)
        #expect(RFSMetrics.FetchKind(method: WireMethod.treeRead) == .treeRead)
        #expect(RFSMetrics.FetchKind(method: "request_plugin_info") == nil)
    }

    @Test("run results map to their outcome label")
    func outcomes() {
        #expect(RunResult.ok.outcome == .ok)
        #expect(RunResult.exit(code: 3).outcome == .exit)
        #expect(RunResult.exception(PythonException(type: "ValueError", message: "x", traceback: "")).outcome == .exception)
        #expect(RunResult.crashed(HostCrash(signal: "SIGKILL", exitCode: nil)).outcome == .crashed)
    }

    @Test("a host's run result carries store lookups the daemon reads; malformed or absent ones are ignored")
    func storeLookupsInHostResult() throws {
        let result: JSONValue = ["status": "ok", "store_lookups": ["hits": 4, "misses": 1]]
        #expect(HostStoreLookups(result: result) == HostStoreLookups(hits: 4, misses: 1))
        #expect(HostStoreLookups(result: ["status": "ok"]) == nil)
        #expect(HostStoreLookups(result: ["status": "ok", "store_lookups": ["hits": -1, "misses": 0]]) == nil)
        #expect(HostStoreLookups(result: ["status": "ok", "store_lookups": ["hits": "4", "misses": 0]]) == nil)
        // The daemon answers the client from the parsed result: the member does not reach it.
        #expect(try RunResult(json: result).json == ["status": "ok"])
    }
}
