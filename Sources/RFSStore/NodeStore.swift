#if canImport(Glibc)
import Glibc
#endif
import Logging
import Synchronization

/// The worker node's cache directory as the daemon keeps it (spec of issue 9, "Store layout"):
///
/// ```
/// <cache>/store/blobs/<sha[0:2]>/<sha>                 the clients' files, by content
/// <cache>/store/code/<magic>-o<opt>/<sha[0:2]>/<sha>   their compiled code
/// <cache>/store/tmp/<pid>.<random>                     being written by a run host
/// <cache>/runs/<daemon pid>.<n>/                       a run's materialized tree
/// ```
///
/// Run hosts (Python) write blobs and code into the store and hard-link blobs into a run's
/// tree; this type never reads their contents. It creates the layout, cleans up after crashed
/// processes (``startupCleanup()``), makes and removes run trees
/// (``makeRunTreeDirectory()``, ``removeRunTree(_:)``) and keeps the store within its size
/// (``evict()``).
///
/// **Threads.** Every method does synchronous file I/O, possibly a lot of it (a store may hold
/// 10⁵ files): call them off NIO event loops and off Swift's cooperative pool, e.g. through
/// ``StoreMaintenance``, which runs them on a dedicated queue. The type itself is thread-safe
/// (its state is immutable but for an atomic counter); no two evictions should run at once
/// (``StoreMaintenance`` serialises them), though even that only wastes work.
///
/// **Sharing.** Every daemon and host of the node may share one cache directory, as long as they
/// run as one user in one pid namespace: a crashed process's leftovers are recognised by its pid
/// no longer existing.
public final class NodeStore: Sendable {
    /// The cache directory, its symbolic links resolved.
    public let cacheDirectory: String
    /// `<cache>/store`: what run hosts are told (``HostTree/store``).
    public let storeDirectory: String
    /// `<cache>/runs`: where run trees are made.
    public let runsDirectory: String
    /// The most `blobs` and `code` may hold together, in bytes.
    public let sizeLimit: Int64
    /// What an eviction brings the store down to: 90 % of ``sizeLimit``, so that each eviction
    /// makes room for a while rather than one file at a time.
    public let lowWaterMark: Int64
    /// This process's pid: its run trees are `runs/<pid>.<n>`.
    let pid: Int32
    private let treeCounter: Atomic<UInt64>
    /// Trees named with this process's pid found at start: a previous process that had the same
    /// pid (a daemon restarted in a container is pid 1 again) left them; ``startupCleanup()``
    /// removes them, and our own trees are numbered after them.
    let staleOwnTrees: [String]
    let logger: Logger

    /// tmp files of a live process older than this are abandoned.
    public static let abandonedTemporaryAge: Int64 = 3600 * 1_000_000_000

    /// Creates the layout under `directory` (and `directory` itself, 0700, when missing) and
    /// checks that each part is a directory owned by this user; `runs` and `store/tmp` are made
    /// 0700. Does no cleanup (see ``startupCleanup()``).
    public init(directory: String, sizeLimit: Int64, logger: Logger) throws(StoreError) {
        guard directory.hasPrefix("/") else {
            throw StoreError("use the cache directory", path: directory, detail: "it must be an absolute path")
        }
        try Self.createDirectories(upTo: directory)
        try Self.checkOwned(directory, followingLinks: true, what: "the cache directory")
        guard let resolved = realpath(directory, nil) else { throw .system("resolve the cache directory", path: directory) }
        cacheDirectory = String(cString: resolved)
        free(resolved)
        storeDirectory = cacheDirectory + "/store"
        runsDirectory = cacheDirectory + "/runs"
        for (path, mode) in [
            (storeDirectory, mode_t(0o700)), (storeDirectory + "/blobs", 0o700), (storeDirectory + "/code", 0o700),
            (storeDirectory + "/tmp", 0o700), (runsDirectory, 0o700),
        ] {
            try Self.makeDirectory(path, mode: mode)
        }
        for private_ in [runsDirectory, storeDirectory + "/tmp"] {
            guard chmod(private_, 0o700) == 0 else { throw .system("make private (mode 0700)", path: private_) }
        }
        self.sizeLimit = max(0, sizeLimit)
        self.lowWaterMark = self.sizeLimit / 10 * 9
        self.logger = logger
        pid = getpid()
        var stale: [String] = []
        var highest: UInt64 = 0
        let descriptor = FileSystem.openDirectory(runsDirectory)
        guard descriptor >= 0, let entries = DirectoryEntries(adopting: descriptor) else {
            throw .system("list the runs directory", path: runsDirectory)
        }
        while let name = entries.next() {
            guard let (owner, number) = Self.parseTreeName(name), owner == pid else { continue }
            stale.append(name)
            highest = max(highest, number)
        }
        staleOwnTrees = stale
        treeCounter = Atomic(highest)
    }

    // MARK: - Run trees

    /// Makes a new, empty run tree `runs/<pid>.<n>` (mode 0700) and returns its path.
    public func makeRunTreeDirectory() throws(StoreError) -> String {
        while true {
            let number = treeCounter.wrappingAdd(1, ordering: .relaxed).newValue
            let path = runsDirectory + "/\(pid).\(number)"
            if mkdir(path, 0o700) == 0 { return path }
            // Left by an earlier process with our pid and made after we looked: take the next.
            if errno == EEXIST { continue }
            throw .system("create the run tree", path: path)
        }
    }

    /// Removes a run tree and everything in it. Refuses any path that is not an entry directly
    /// inside ``runsDirectory`` or is not a directory (a symbolic link there is refused, not
    /// followed); inside the tree, links are removed, never followed, and read-only files and
    /// directories are removed too. A tree already gone is not an error.
    public func removeRunTree(_ path: String) throws(StoreError) {
        let prefix = runsDirectory + "/"
        guard path.hasPrefix(prefix) else {
            throw StoreError("remove the run tree", path: path, detail: "it is not inside \(runsDirectory)")
        }
        let name = String(path.dropFirst(prefix.count))
        guard !name.isEmpty, name != ".", name != "..", !name.contains("/") else {
            throw StoreError("remove the run tree", path: path, detail: "it is not an entry directly inside \(runsDirectory)")
        }
        let runs = FileSystem.openDirectory(runsDirectory)
        guard runs >= 0 else { throw .system("open the runs directory", path: runsDirectory) }
        defer { close(runs) }
        guard let info = FileSystem.status(at: runs, name) else {
            if errno == ENOENT { return }
            throw .system("inspect the run tree", path: path)
        }
        guard info.isDirectory else {
            throw StoreError("remove the run tree", path: path, detail: "it is not a directory (refused: only trees are removed)")
        }
        try TreeRemoval.remove(name, in: runs, path: path)
    }

    // MARK: - Layout

    /// `mkdir -p` for the cache directory: missing parents are made 0700 (they are usually
    /// `~/.cache`).
    private static func createDirectories(upTo directory: String) throws(StoreError) {
        var path = ""
        for component in directory.split(separator: "/") {
            path += "/" + component
            if mkdir(path, 0o700) == 0 || errno == EEXIST { continue }
            // A parent we may not create but that exists (e.g. EACCES on "/home") is fine.
            if FileSystem.status(path, followingLinks: true)?.isDirectory == true { continue }
            throw .system("create the cache directory", path: path)
        }
    }

    /// A directory of the layout: made when missing; when present it must be a real directory
    /// (not a link) owned by this user.
    private static func makeDirectory(_ path: String, mode: mode_t) throws(StoreError) {
        if mkdir(path, mode) != 0, errno != EEXIST { throw .system("create", path: path) }
        try checkOwned(path, followingLinks: false, what: "a directory of the cache")
    }

    private static func checkOwned(_ path: String, followingLinks: Bool, what: String) throws(StoreError) {
        guard let info = FileSystem.status(path, followingLinks: followingLinks) else { throw .system("inspect \(what)", path: path) }
        guard info.isDirectory else { throw StoreError("use \(what)", path: path, detail: "it is not a directory") }
        guard info.st_uid == geteuid() else {
            throw StoreError("use \(what)", path: path, detail: "it is owned by uid \(info.st_uid), not by this user (uid \(geteuid()))")
        }
    }

    /// `<pid>.<n>` of a run tree's (or `<pid>.<random>` of a tmp file's) name.
    static func parseTreeName(_ name: String) -> (pid: Int32, number: UInt64)? {
        let parts = name.split(separator: ".", maxSplits: 1, omittingEmptySubsequences: false)
        guard parts.count == 2, let pid = Int32(parts[0]), pid > 0, let number = UInt64(parts[1]) else { return nil }
        return (pid, number)
    }

    /// The pid of a tmp file `<pid>.<random>` (the random part is not checked).
    static func parseTemporaryName(_ name: String) -> Int32? {
        let parts = name.split(separator: ".", maxSplits: 1, omittingEmptySubsequences: false)
        guard parts.count == 2, !parts[1].isEmpty, let pid = Int32(parts[0]), pid > 0 else { return nil }
        return pid
    }
}
