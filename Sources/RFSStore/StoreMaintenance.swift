import Dispatch
import Logging
import Synchronization

/// The node store's housekeeping, run off the event loops and off Swift's cooperative pool:
/// ``NodeStore``'s calls are synchronous file I/O, possibly long (an eviction walks the whole
/// store).
///
/// Cleanup, tree removal and eviction run one at a time, in the order asked, on one serial
/// dispatch queue owned here (``housekeeping``): an eviction never races another, and a removal
/// asked for before an eviction has freed its links when the eviction looks. Making a run's
/// tree directory (one `mkdir`, which a run waits for) runs on Dispatch's global queue instead,
/// so a run never waits behind an eviction.
///
/// Eviction requests are coalesced (``scheduleEviction()``): while one is queued, more requests
/// add nothing; one arriving while an eviction runs queues one more, so nothing written
/// meanwhile escapes the limit. The flag is an `Atomic`.
public final class StoreMaintenance: Sendable {
    public let store: NodeStore
    private let housekeeping: DispatchQueue
    private let evictionQueued = Atomic<Bool>(false)

    public init(store: NodeStore) {
        self.store = store
        housekeeping = DispatchQueue(label: "rfs.store.housekeeping", qos: .utility)
    }

    /// Queues ``NodeStore/startupCleanup()``; returns at once.
    public func scheduleStartupCleanup() {
        let store = self.store
        housekeeping.async { store.startupCleanup() }
    }

    /// A new, empty run tree directory (see ``NodeStore/makeRunTreeDirectory()``).
    public func makeRunTreeDirectory() async throws(StoreError) -> String {
        let store = self.store
        let result = await withCheckedContinuation { (continuation: CheckedContinuation<Result<String, StoreError>, Never>) in
            DispatchQueue.global(qos: .userInitiated).async {
                continuation.resume(returning: Result { () throws(StoreError) in try store.makeRunTreeDirectory() })
            }
        }
        return try result.get()
    }

    /// Removes a run tree (see ``NodeStore/removeRunTree(_:)``), after the housekeeping queued
    /// before it.
    public func removeRunTree(_ path: String) async throws(StoreError) {
        let result = await onHousekeeping { store in Result { () throws(StoreError) in try store.removeRunTree(path) } }
        try result.get()
    }

    /// Removes run trees in the background, logging what could not be removed.
    public func scheduleRemoval(of paths: [String]) {
        guard !paths.isEmpty else { return }
        let store = self.store
        housekeeping.async {
            for path in paths {
                do {
                    try store.removeRunTree(path)
                } catch {
                    store.logger.warning("cannot remove a run tree", metadata: ["error": "\(error)"])
                }
            }
        }
    }

    /// Queues an eviction unless one is queued already; returns at once.
    public func scheduleEviction() {
        guard evictionQueued.compareExchange(expected: false, desired: true, ordering: .acquiringAndReleasing).exchanged else { return }
        let store = self.store
        housekeeping.async {
            self.evictionQueued.store(false, ordering: .releasing)
            store.evict()
        }
    }

    /// Evicts now (after what is queued) and reports what happened.
    public func evict() async -> EvictionReport {
        await onHousekeeping { $0.evict() }
    }

    /// Returns when everything queued before this call has run.
    public func idle() async {
        await onHousekeeping { _ in () }
    }

    private func onHousekeeping<T: Sendable>(_ work: @escaping @Sendable (NodeStore) -> T) async -> T {
        let store = self.store
        return await withCheckedContinuation { continuation in
            housekeeping.async { continuation.resume(returning: work(store)) }
        }
    }
}
