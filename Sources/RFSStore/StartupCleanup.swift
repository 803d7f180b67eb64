#if canImport(Glibc)
import Glibc
#endif
import Logging

/// What ``NodeStore/startupCleanup()`` removed.
public struct CleanupReport: Sendable, Equatable {
    /// Half-written `store/tmp` files of processes that are gone (or abandoned for an hour).
    public var temporaryFiles = 0
    /// Run trees of daemons that are gone.
    public var runTrees = 0
    /// What could not be removed (logged), e.g. a tree whose permissions were changed.
    public var failures = 0
}

extension NodeStore {
    /// Removes what crashed processes left: `store/tmp/<pid>.<random>` files whose writer is gone
    /// or that are older than an hour (a writer never takes that long), and `runs/<pid>.<n>`
    /// trees of daemons that are gone (and those a previous process with our pid left). Run it
    /// once at start, in the background: it only removes what no live process uses.
    @discardableResult
    public func startupCleanup() -> CleanupReport {
        var report = CleanupReport()
        cleanTemporaryFiles(&report)
        cleanRunTrees(&report)
        if report != CleanupReport() {
            logger.info(
                "removed what crashed processes left in the cache",
                metadata: [
                    "tmp_files": "\(report.temporaryFiles)", "run_trees": "\(report.runTrees)",
                    "failures": "\(report.failures)", "cache": "\(cacheDirectory)",
                ])
        }
        return report
    }

    private func cleanTemporaryFiles(_ report: inout CleanupReport) {
        let directory = storeDirectory + "/tmp"
        let descriptor = FileSystem.openDirectory(directory)
        guard descriptor >= 0, let entries = DirectoryEntries(adopting: descriptor) else {
            logger.warning("cannot list the store's tmp directory", metadata: ["error": "\(StoreError.system("list", path: directory))"])
            report.failures += 1
            return
        }
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        let nowNanoseconds = Int64(now.tv_sec) * 1_000_000_000 + Int64(now.tv_nsec)
        while let name = entries.next() {
            guard let info = FileSystem.status(at: entries.descriptor, name) else { continue }
            let abandoned = nowNanoseconds - info.modificationTime > Self.abandonedTemporaryAge
            let writerGone = Self.parseTemporaryName(name).map { !processIsAlive($0) } ?? false
            guard abandoned || writerGone else { continue }
            if info.isDirectory {
                do {
                    try TreeRemoval.remove(name, in: entries.descriptor, path: directory + "/" + name)
                    report.temporaryFiles += 1
                } catch {
                    logger.warning("cannot remove a leftover in the store's tmp directory", metadata: ["error": "\(error)"])
                    report.failures += 1
                }
            } else if unlinkat(entries.descriptor, name, 0) == 0 {
                report.temporaryFiles += 1
            } else if errno != ENOENT {
                logger.warning(
                    "cannot remove a leftover in the store's tmp directory",
                    metadata: ["error": "\(StoreError.system("remove", path: directory + "/" + name))"])
                report.failures += 1
            }
        }
    }

    private func cleanRunTrees(_ report: inout CleanupReport) {
        let descriptor = FileSystem.openDirectory(runsDirectory)
        guard descriptor >= 0, let entries = DirectoryEntries(adopting: descriptor) else {
            logger.warning("cannot list the runs directory", metadata: ["error": "\(StoreError.system("list", path: runsDirectory))"])
            report.failures += 1
            return
        }
        let stale = Set(staleOwnTrees)
        while let name = entries.next() {
            guard let (owner, _) = Self.parseTreeName(name) else { continue }
            let leftover = owner == pid ? stale.contains(name) : !processIsAlive(owner)
            guard leftover else { continue }
            guard let info = FileSystem.status(at: entries.descriptor, name) else { continue }
            let path = runsDirectory + "/" + name
            do {
                if info.isDirectory {
                    try TreeRemoval.remove(name, in: entries.descriptor, path: path)
                } else if unlinkat(entries.descriptor, name, 0) != 0, errno != ENOENT {
                    throw StoreError.system("remove", path: path)
                }
                report.runTrees += 1
            } catch {
                logger.warning("cannot remove a crashed daemon's run tree", metadata: ["error": "\(error)"])
                report.failures += 1
            }
        }
    }
}
