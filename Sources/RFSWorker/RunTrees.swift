import Logging
import RFSProtocol
import RFSStore
import RFSWire
import Synchronization

/// The runs' materialized trees (spec of issue 9): a directory `runs/<pid>.<n>` of the node
/// store made for each run whose client sent a manifest, handed to its host in
/// ``HostTree``, and removed when no run can use it any more:
///
/// - a host's trees all go when the host ends (a `run`-isolation host ends after its run);
/// - a host that lives across runs (`session`, `shared` isolation) keeps the trees of its
///   current and previous run (modules the previous run imported may still be referenced:
///   their `__file__`, lazily loaded data) and older ones go after each run;
/// - what is left at shutdown goes in ``removeAll()``; a crashed daemon's trees go at the next
///   start (``NodeStore/startupCleanup()``).
///
/// After every run, an eviction of the store is scheduled (coalesced).
///
/// State: the trees of each host, oldest first, are a `Mutex`; the file work runs on the
/// ``StoreMaintenance`` queue, never on the caller's thread.
final class RunTrees: Sendable {
    let maintenance: StoreMaintenance
    let offer: TreeOffer
    private let logger: Logger
    private struct HostTrees {
        /// Oldest first.
        var directories: [String] = []
        /// Waits for the host's end, then removes its trees.
        var watcher: Task<Void, Never>?
    }

    private let hosts = Mutex<[UInt64: HostTrees]>([:])

    /// Trees a host that lives across runs keeps: its current run's and the previous one's.
    static let keptPerHost = 2

    init(maintenance: StoreMaintenance, offer: TreeOffer, logger: Logger) {
        self.maintenance = maintenance
        self.offer = offer
        self.logger = logger
    }

    /// A new tree directory for a run with `manifest` (not yet bound to a host).
    func make(for manifest: TreeManifest) async throws(StoreError) -> HostTree {
        let directory = try await maintenance.makeRunTreeDirectory()
        return HostTree(
            directory: directory, store: maintenance.store.storeDirectory, maxReplyBytes: offer.maxReplyBytes, manifest: manifest)
    }

    /// Removes a tree that never reached a host (its run could not start).
    func abandon(_ tree: HostTree) {
        maintenance.scheduleRemoval(of: [tree.directory])
    }

    /// Records that host `number` uses `directory`; when the host is not watched yet, its end
    /// (`waitForExit` returns) removes all its trees.
    func attach(_ directory: String, toHost number: UInt64, waitForExit: @escaping @Sendable () async -> Void) {
        hosts.withLock { hosts in
            hosts[number, default: HostTrees()].directories.append(directory)
            if hosts[number]?.watcher == nil {
                hosts[number]?.watcher = Task {
                    await waitForExit()
                    self.hostEnded(number)
                }
            }
        }
    }

    /// A run on host `number` ended: trees beyond the newest `keep` go (pass 0 when the host is
    /// discarded, though its end removes them anyway), and an eviction is scheduled.
    func runEnded(onHost number: UInt64, keep: Int) {
        let old = hosts.withLock { hosts -> [String] in
            guard let list = hosts[number]?.directories, list.count > keep else { return [] }
            let old = Array(list.prefix(list.count - keep))
            hosts[number]?.directories.removeFirst(old.count)
            return old
        }
        maintenance.scheduleRemoval(of: old)
        maintenance.scheduleEviction()
    }

    /// Host `number` is gone: all its trees go.
    func hostEnded(_ number: UInt64) {
        let gone = hosts.withLock { $0.removeValue(forKey: number) }?.directories ?? []
        if !gone.isEmpty {
            logger.debug("run host ended: removing its run trees", metadata: ["host": "\(number)", "trees": "\(gone.count)"])
        }
        maintenance.scheduleRemoval(of: gone)
    }

    /// Removes every tree still recorded and returns when that is done (at shutdown, once the
    /// hosts are stopped).
    func removeAll() async {
        let all = hosts.withLock { hosts -> [String] in
            defer { hosts.removeAll() }
            return hosts.values.flatMap(\.directories)
        }
        maintenance.scheduleRemoval(of: all)
        await maintenance.idle()
    }

    /// The trees recorded for host `number`, oldest first (for tests and logs).
    func directories(ofHost number: UInt64) -> [String] {
        hosts.withLock { $0[number]?.directories ?? [] }
    }

    /// The task that removes host `number`'s trees when it ends (tests await it).
    func watcher(ofHost number: UInt64) -> Task<Void, Never>? {
        hosts.withLock { $0[number]?.watcher }
    }
}
