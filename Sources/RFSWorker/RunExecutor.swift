import Logging
import RFSProtocol
import RFSWire
import Synchronization

/// Decides where and when each run executes (DESIGN.md §6) and sees it to its end.
///
/// - **Where**: `run` isolation takes a fresh host from the ``HostPool`` and discards it after
///   the run; `session` keeps one host per client session (its ``HostSlot``); `shared` uses one
///   host for all sessions (the executor's slot).
/// - **When**: at most `--max-runs` runs execute at once (``RunSlots``, arrival order); runs of
///   one session or shared host also wait for that host, one at a time.
/// - **To its end**: a ``RunWatchdog`` turns cancellation, `--run-timeout`, `--run-memory` and
///   shutdown into an interrupt and, after `--cancel-grace`, a kill; a host that dies ends only
///   its run, whose reply says how.
///
/// - **Its tree**: a run whose client sent a manifest gets a tree directory in the node store
///   (``RunTrees``), handed to its host and removed when no run can use it any more; after each
///   run the store's eviction is scheduled. On a worker without a cache (no `tree` capability
///   offered) a manifest is ignored and imports go through `fetch_module`.
///
/// State: the current execution context (for `request_plugin_info` and runs without one) and
/// the runs in progress (for shutdown) are `Mutex`es; the pool is an actor.
final class RunExecutor: Sendable {
    private let configuration: WorkerConfiguration
    private let pool: HostPool
    private let slots: RunSlots
    private let sharedSlot = HostSlot()
    private let logger: Logger
    private let context = Mutex(ExecutionContext.empty)
    private let active = ActiveRuns()
    private let stopping = Atomic<Bool>(false)
    private let metrics: WorkerMetrics
    /// nil when the worker has no node store (no cache directory, or it could not be made).
    let trees: RunTrees?

    init(configuration: WorkerConfiguration, pool: HostPool, trees: RunTrees? = nil, metrics: WorkerMetrics = WorkerMetrics(), logger: Logger) {
        self.configuration = configuration
        self.metrics = metrics
        self.pool = pool
        self.trees = trees
        self.slots = RunSlots(capacity: configuration.isolation == .shared ? 1 : configuration.maxRuns)
        self.logger = logger
    }

    /// The context of the latest run that set one (the reference's "current" context).
    var currentContext: ExecutionContext {
        context.withLock { $0 }
    }

    /// Runs `run` for a session. `run.context` nil means the current context. `send` delivers
    /// the run's output to the client (waiting while it does not read). `sessionSlot` is the
    /// session's own host under `session` isolation.
    ///
    /// Cancelling the calling task (`$/cancelRequest`, a closed session) leaves the queue, or
    /// interrupts the run and kills its host after the grace; it then throws `CancellationError`.
    ///
    /// `requester`: who asked; the context the run gets is checked against it here, where it is
    /// chosen (``RunRequester``), and its fetches are checked again as they happen.
    func execute(
        _ run: RunParams, requester: RunRequester, sessionSlot: HostSlot, send: @escaping @Sendable (String) async -> Void
    ) async throws -> RunResult {
        guard !stopping.load(ordering: .relaxed) else { throw WorkerError.shuttingDown }
        let isolation = configuration.isolation
        let slot: HostSlot? =
            switch isolation {
            case .run: nil
            case .session: sessionSlot
            case .shared: sharedSlot
            }
        if let slot { try await slot.gate.acquire() }
        defer { slot?.gate.release() }
        if slots.inUse >= slots.capacity {
            logger.info(
                "run waits for a free slot",
                metadata: ["max_runs": "\(slots.capacity)", "waiting": "\(slots.queued + 1)", "filename": "\(run.filename)"])
        }
        try await slots.acquire()
        defer { slots.release() }
        try Task.checkCancellation()
        guard !stopping.load(ordering: .relaxed) else { throw WorkerError.shuttingDown }

        let runContext = try context.withLock { current throws(JSONRPCError) -> ExecutionContext in
            let chosen = run.context ?? current
            try requester.authorize(chosen)
            current = chosen
            return chosen
        }
        let tree = try await makeTree(for: run)
        let host: RunHost
        do {
            if let slot {
                host = try await slot.host { try await self.pool.take() }
            } else {
                host = try await pool.take()
            }
        } catch {
            if let tree { trees?.abandon(tree) }
            logger.error("no run host for the run", metadata: ["error": "\(error)"])
            throw JSONRPCError.internalError("the worker could not start a run host: \(error)")
        }
        var params = run
        params.context = runContext
        if let tree {
            trees?.attach(tree.directory, toHost: host.number) { _ = await host.waitForExit() }
        }
        var binding = RunHost.Binding(
            send: send, connectionID: runContext.connectionID, requester: requester, forwardsProcessOutput: isolation != .shared)
        if tree != nil {
            binding.storeLookups = { [metrics] in metrics.recordStoreLookups(hits: $0.hits, misses: $0.misses) }
        }
        let watchdog = RunWatchdog(
            host: host, cancelGrace: configuration.cancelGrace, runTimeout: configuration.runTimeout,
            runMemory: configuration.runMemory, logger: logger)
        let registration = active.insert(watchdog)
        if stopping.load(ordering: .relaxed) {
            watchdog.interrupt(.shutdown, message: "the worker is shutting down")
        }
        logger.debug("run starting", metadata: ["host": "\(host.number)", "filename": "\(run.filename)"])
        let ending = await withTaskCancellationHandler {
            await host.run(HostRunParams(run: params, finishInterpreter: isolation == .run, tree: tree), binding: binding)
        } onCancel: {
            watchdog.interrupt(.cancel, message: nil)
        }
        watchdog.stop()
        active.remove(registration)

        switch isolation {
        case .run:
            // The reply waits for the run's process-level output, not for the host's end.
            await host.drainProcessOutput()
            Task { await host.discard() }
        case .session, .shared:
            if case .died = ending { await slot?.clear(host) }
        }
        // A discarded host's trees go once it has exited (it may still be writing into them
        // until then); a kept host keeps this run's and the previous run's.
        trees?.runEnded(onHost: host.number, keep: isolation == .run ? .max : RunTrees.keptPerHost)
        let pool = self.pool
        Task { await pool.replenish() }
        try Task.checkCancellation()
        switch ending {
        case .finished(let result):
            return result
        case .failed(let error):
            throw error
        case .died(let status):
            let killed = watchdog.killReason
            logger.info(
                "run host died during the run",
                metadata: ["host": "\(host.number)", "status": "\(status)", "reason": "\(killed?.reason ?? "none")"])
            return .crashed(status.crash(reason: killed?.reason, message: killed?.message))
        }
    }

    /// The run's tree directory when the client sent a manifest and this worker keeps trees.
    private func makeTree(for run: RunParams) async throws -> HostTree? {
        guard let manifest = run.tree else { return nil }
        guard let trees else {
            logger.debug("manifest ignored: this worker offers no tree", metadata: ["filename": "\(run.filename)"])
            return nil
        }
        do {
            return try await trees.make(for: manifest)
        } catch {
            logger.error("cannot create the run's tree", metadata: ["error": "\(error)"])
            throw JSONRPCError.internalError("the worker could not create the run's tree: \(error)")
        }
    }

    /// A session that owned `connectionID` closed: hosts that keep state between runs forget
    /// its finder.
    func connectionClosed(_ connectionID: String) {
        sharedSlot.current?.connectionClosed(connectionID)
    }

    /// Refuses new runs, lets running ones go on for `shutdownGrace`, then interrupts them
    /// (their hosts are killed after the cancel grace); returns when none is left.
    func drain(shutdownGrace: Duration) async {
        stopping.store(true, ordering: .relaxed)
        if await !active.waitUntilEmpty(atMost: shutdownGrace) {
            for watchdog in active.all {
                watchdog.interrupt(.shutdown, message: "the worker is shutting down")
            }
            await active.waitUntilEmpty()
        }
    }

    /// Stops every host: the pool's, the shared one.
    func shutdownHosts() async {
        await pool.shutdown()
        await sharedSlot.discard()
        await trees?.removeAll()
    }
}

/// One host used run after run: a session's (`session` isolation) or everyone's (`shared`),
/// with a gate so its runs execute one at a time, in arrival order. A host that died is
/// replaced at the next run.
final class HostSlot: Sendable {
    let gate = RunSlots(capacity: 1)
    private let stored = Mutex<RunHost?>(nil)

    /// The slot's host, started with `make` when there is none (or it died). Call while
    /// holding `gate`.
    func host(_ make: () async throws -> RunHost) async throws -> RunHost {
        if let host = stored.withLock({ $0 }), host.isAlive { return host }
        let host = try await make()
        stored.withLock { $0 = host }
        return host
    }

    var current: RunHost? { stored.withLock { $0 } }

    func clear(_ host: RunHost) async {
        let removed = stored.withLock { stored -> Bool in
            guard stored === host else { return false }
            stored = nil
            return true
        }
        if removed { await host.discard() }
    }

    func discard() async {
        if let host = stored.withLock({ slot -> RunHost? in
            defer { slot = nil }
            return slot
        }) {
            await host.discard()
        }
    }
}

/// The watchdogs of the runs in progress, so shutdown can interrupt them.
final class ActiveRuns: Sendable {
    private struct State {
        var next: UInt64 = 0
        var runs: [UInt64: RunWatchdog] = [:]
        var emptyWaiters: [UInt64: CheckedContinuation<Bool, Never>] = [:]
    }

    private let state = Mutex(State())

    func insert(_ watchdog: RunWatchdog) -> UInt64 {
        state.withLock { state in
            state.next += 1
            state.runs[state.next] = watchdog
            return state.next
        }
    }

    func remove(_ id: UInt64) {
        let waiters = state.withLock { state -> [CheckedContinuation<Bool, Never>] in
            state.runs[id] = nil
            guard state.runs.isEmpty else { return [] }
            defer { state.emptyWaiters.removeAll() }
            return Array(state.emptyWaiters.values)
        }
        for waiter in waiters { waiter.resume(returning: true) }
    }

    var all: [RunWatchdog] { state.withLock { Array($0.runs.values) } }

    func waitUntilEmpty() async {
        _ = await waitUntilEmpty(atMost: nil)
    }

    /// True when no run is left; false when `limit` passed first.
    func waitUntilEmpty(atMost limit: Duration?) async -> Bool {
        let id = state.withLock { state -> UInt64 in
            state.next += 1
            return state.next
        }
        let timer = Mutex<Task<Void, Never>?>(nil)
        let emptied = await withCheckedContinuation { (continuation: CheckedContinuation<Bool, Never>) in
            let empty = state.withLock { state -> Bool in
                if state.runs.isEmpty { return true }
                state.emptyWaiters[id] = continuation
                return false
            }
            if empty {
                continuation.resume(returning: true)
                return
            }
            if let limit {
                // Started after the waiter is registered, so it cannot fire too early.
                timer.withLock {
                    $0 = Task {
                        try? await Task.sleep(for: limit)
                        if Task.isCancelled { return }
                        let waiter = self.state.withLock { $0.emptyWaiters.removeValue(forKey: id) }
                        waiter?.resume(returning: false)
                    }
                }
            }
        }
        timer.withLock { $0 }?.cancel()
        return emptied
    }
}
