import CoreMetrics
import Prometheus
import RFSProtocol

/// The worker's metrics (names in ``RFSMetrics``), recorded through swift-metrics into a
/// Prometheus registry this worker owns, which `/metrics` serves as text (``exposition()``).
///
/// Why a registry per worker, and an explicit factory at every recording point, rather than
/// the global `MetricsSystem`: `MetricsSystem.bootstrap` may run once per process, and tests
/// run several workers in one process; each then counts only its own sessions and runs. The
/// `rfs worker` process additionally makes this worker's factory the process's backend
/// (``bootstrapProcessMetrics()``, once, at start), so what is counted through the global API —
/// the refusals of the transport and the JSON-RPC peer (``RFSMetrics/reject(_:)``) — lands in
/// the same registry and on the same page.
///
/// Every series the worker knows of is registered at 0 when it is made (each refusal reason,
/// each run outcome, each fetch kind; the store's two once the store exists), so a scraper sees
/// them from its first scrape instead of reading a series' first appearance as a reset.
///
/// State: none of its own; the registry and the handles are thread-safe (atomics and a lock in
/// swift-prometheus), so every method may be called from any thread or task.
public final class WorkerMetrics: Sendable {
    /// Where every metric of this worker is kept; `/metrics` is its text.
    public let registry: PrometheusCollectorRegistry
    private let factory: PrometheusMetricsFactory
    private let sessionsOpen: Meter
    private let sessionsOpened: CoreMetrics.Counter
    private let runs: [RFSMetrics.RunOutcome: CoreMetrics.Counter]
    private let runDuration: CoreMetrics.Timer
    private let fetches: [RFSMetrics.FetchKind: CoreMetrics.Counter]
    private let fetchBytes: [RFSMetrics.FetchKind: CoreMetrics.Counter]

    /// Upper bounds of the run duration histogram: from a warm host's few tens of milliseconds
    /// to an hour-long job.
    public static let runDurationBuckets: [Duration] = [
        .milliseconds(50), .milliseconds(100), .milliseconds(250), .milliseconds(500), .seconds(1),
        .milliseconds(2500), .seconds(5), .seconds(10), .seconds(30), .seconds(60), .seconds(300),
        .seconds(900), .seconds(3600),
    ]

    public init(registry: PrometheusCollectorRegistry = PrometheusCollectorRegistry()) {
        self.registry = registry
        var factory = PrometheusMetricsFactory(registry: registry)
        factory.durationHistogramBuckets[RFSMetrics.runDuration] = Self.runDurationBuckets
        self.factory = factory
        sessionsOpen = Meter(label: RFSMetrics.sessionsOpen, factory: factory)
        sessionsOpened = CoreMetrics.Counter(label: RFSMetrics.sessionsOpened, factory: factory)
        runs = Dictionary(
            uniqueKeysWithValues: RFSMetrics.RunOutcome.allCases.map { outcome in
                (outcome, CoreMetrics.Counter(label: RFSMetrics.runs, dimensions: [("outcome", outcome.rawValue)], factory: factory))
            })
        runDuration = CoreMetrics.Timer(label: RFSMetrics.runDuration, factory: factory)
        fetches = Self.byKind(RFSMetrics.fetches, factory: factory)
        fetchBytes = Self.byKind(RFSMetrics.fetchBytes, factory: factory)
        // Making a handle registers its series (at 0); the global API's handles for the same
        // labels are then the same counters.
        for reason in RFSMetrics.Rejection.allCases {
            _ = CoreMetrics.Counter(label: RFSMetrics.rejected, dimensions: [("reason", reason.rawValue)], factory: factory)
        }
    }

    private static func byKind(_ label: String, factory: PrometheusMetricsFactory) -> [RFSMetrics.FetchKind: CoreMetrics.Counter] {
        Dictionary(
            uniqueKeysWithValues: RFSMetrics.FetchKind.allCases.map { kind in
                (kind, CoreMetrics.Counter(label: label, dimensions: [("kind", kind.rawValue)], factory: factory))
            })
    }

    /// Makes this worker's registry the backend of the process's global `MetricsSystem`, so
    /// counts recorded without a factory (``RFSMetrics/reject(_:)``) appear on its page. Call
    /// once per process, in the `rfs worker` command before the worker starts; swift-metrics
    /// traps on a second bootstrap, which is why workers made in tests never call it.
    public func bootstrapProcessMetrics() {
        MetricsSystem.bootstrap(factory)
    }

    /// The Prometheus text exposition (format 0.0.4) of every metric: what `/metrics` answers.
    public func exposition() -> String {
        registry.emitToString()
    }

    /// A session's connection was upgraded and is served from now on.
    func sessionOpened() {
        sessionsOpened.increment()
        sessionsOpen.increment()
    }

    func sessionClosed() {
        sessionsOpen.decrement()
    }

    /// A run was answered (or abandoned) `duration` after its request arrived.
    func runFinished(_ outcome: RFSMetrics.RunOutcome, duration: Duration) {
        runs[outcome]?.increment()
        runDuration.recordNanoseconds(Self.nanoseconds(duration))
    }

    /// The client answered a fetch of `kind` with a reply message of `bytes` bytes.
    func fetched(_ kind: RFSMetrics.FetchKind, bytes: Int) {
        fetches[kind]?.increment()
        fetchBytes[kind]?.increment(by: bytes)
    }

    /// Registers the store's two counters at 0: called once the node store exists, so a worker
    /// without one shows none.
    func storeAvailable() {
        recordStoreLookups(hits: 0, misses: 0)
    }

    /// What a run's tree found in the node store (`hits`) and had to ask the client for
    /// (`misses`), as its host reported after the run.
    func recordStoreLookups(hits: Int, misses: Int) {
        CoreMetrics.Counter(label: RFSMetrics.storeHits, factory: factory).increment(by: max(0, hits))
        CoreMetrics.Counter(label: RFSMetrics.storeMisses, factory: factory).increment(by: max(0, misses))
    }

    private static func nanoseconds(_ duration: Duration) -> Int64 {
        let (seconds, attoseconds) = duration.components
        let (scaled, overflow) = seconds.multipliedReportingOverflow(by: 1_000_000_000)
        return overflow ? .max : scaled.addingReportingOverflow(attoseconds / 1_000_000_000).partialValue
    }
}
