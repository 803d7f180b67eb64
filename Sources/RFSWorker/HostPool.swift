import Logging

/// Run hosts started ahead of need (`--warm-hosts`): interpreter initialised, worker package
/// imported, waiting for a run, so a run does not wait for CPython to start (DESIGN.md §6).
///
/// An actor: it owns the list of warm hosts, the count of hosts starting and the runs waiting
/// for one of those. A run that finds no warm host waits for one that is starting rather than
/// start another (two interpreters starting at once on a busy machine each take longer); with
/// none starting, it starts its own. Taking a host starts a replacement in the background; a
/// warm host that dies is dropped and replaced. When hosts fail to start, the pool stops
/// refilling until the next take, which then starts one itself and reports its error to the run.
actor HostPool {
    private let launcher: HostLauncher
    private let target: Int
    private let refills: Bool
    private let logger: Logger
    private var warm: [RunHost] = []
    private var starting = 0
    private var stopped = false
    private var lastStartFailed = false
    /// Runs waiting for a host that is starting, first come first served.
    private var takers: [CheckedContinuation<RunHost, any Error>] = []

    /// - Parameters:
    ///   - target: hosts to keep warm.
    ///   - refills: start a replacement whenever one is taken (off for the private worker of
    ///     `rfs run`, which serves one run: a replacement would only compete with it for CPU).
    init(launcher: HostLauncher, target: Int, refills: Bool, logger: Logger) {
        self.launcher = launcher
        self.target = max(0, target)
        self.refills = refills
        self.logger = logger
    }

    /// Starts the first warm hosts; returns at once.
    func start() {
        fill()
    }

    /// A ready host: a warm one, or one started now.
    func take() async throws -> RunHost {
        while !warm.isEmpty {
            let host = warm.removeFirst()
            if host.isAlive { return host }
        }
        if starting > takers.count, !stopped {
            return try await withCheckedThrowingContinuation { takers.append($0) }
        }
        lastStartFailed = false
        return try await launcher.launch()
    }

    var warmCount: Int { warm.count }

    /// Starts hosts until the pool is full again. Called when a run has ended rather than when it
    /// takes its host: starting an interpreter costs tens of milliseconds of CPU, which a run
    /// that just began should not have to share. With warm hosts left, the refill waits a
    /// moment more, so that what follows a run at once (its client finishing, the next run
    /// connecting) does not share the CPU with an interpreter starting either; with none left, it
    /// starts at once.
    func replenish() async {
        guard refills else { return }
        if !warm.isEmpty {
            try? await Task.sleep(for: Self.refillDelay)
        }
        fill()
    }

    /// How long a refill waits after a run while warm hosts remain.
    static let refillDelay = Duration.milliseconds(100)

    /// Kills the warm hosts and starts no more.
    func shutdown() async {
        stopped = true
        let hosts = warm
        warm.removeAll()
        for taker in takers { taker.resume(throwing: WorkerError.shuttingDown) }
        takers.removeAll()
        for host in hosts { await host.discard() }
    }

    private func fill() {
        guard !stopped, !lastStartFailed else { return }
        while warm.count + starting < target {
            starting += 1
            let launcher = self.launcher
            Task {
                do {
                    let host = try await launcher.launch()
                    await self.arrived(host)
                } catch {
                    self.failedToStart(error)
                }
            }
        }
    }

    private func arrived(_ host: RunHost) async {
        starting -= 1
        guard !stopped else {
            await host.discard()
            return
        }
        if !takers.isEmpty {
            takers.removeFirst().resume(returning: host)
            return
        }
        warm.append(host)
        Task {
            _ = await host.waitForExit()
            self.warmHostExited(host)
        }
    }

    private func warmHostExited(_ host: RunHost) {
        guard let index = warm.firstIndex(where: { $0 === host }) else { return }
        warm.remove(at: index)
        logger.warning("a warm run host exited before it was used", metadata: ["host": "\(host.number)", "pid": "\(host.pid)"])
        fill()
    }

    private func failedToStart(_ error: any Error) {
        starting -= 1
        lastStartFailed = true
        logger.error("could not start a warm run host", metadata: ["error": "\(error)"])
        if !takers.isEmpty {
            takers.removeFirst().resume(throwing: error)
        }
    }
}
