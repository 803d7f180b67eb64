#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Logging
import Synchronization

/// A local folder seen as a `sys.path` entry: which modules it serves (DESIGN.md §4), and each
/// module's spec and decoded source on request.
///
/// Names are resolved component by component through directory listings — never by joining a
/// requested name onto a path — so a request can only reach what a listing shows, and every
/// listing and file is checked to be inside the root's real path when opened.
///
/// **Caching.** Directory listings are cached by relative path in ``cache``, a `Mutex` that owns
/// the dictionary of listings and is held just long enough to get or put an entry, never during
/// I/O, so concurrent lookups only serialise on dictionary access. (The one other lock, inside
/// ``WarnOnceLog``, only remembers which warnings were already logged.) A cached listing
/// is reused while its directory's inode and mtime are unchanged (one `stat` per path component)
/// and the directory had already been quiet for a while when it was read (see
/// ``DirectoryListing/isSettled``); otherwise it is read again. On a miss, the directories along
/// the path are read again anyway before answering "not found", so a file added while serving is
/// always found. File contents are never cached: they are read at lookup time.
public final class ModuleIndex: Sendable {
    /// The root folder's real absolute path; origins and search locations are below it.
    public let rootPath: String
    /// The largest source file ``lookup(_:)`` reads (bytes); a larger one is a `tooLarge` error
    /// and is never read, so what one lookup costs is bounded whatever the folder holds.
    public let maxFileBytes: Int64

    /// What `rfs run` and `rfs serve` allow unless told otherwise (`--max-file-size`): far above
    /// any hand-written module (the largest in CPython's standard library is under 1 MiB),
    /// small enough that one fetch cannot cost the client gigabytes.
    public static let defaultMaxFileBytes: Int64 = 32 << 20

    let logger: Logger
    let reader: DirectoryReader
    let sourceReader: SourceFileReader
    let cache: Mutex<CacheState>
    let warnings: WarnOnceLog

    /// Everything ``cache`` guards.
    struct CacheState: ~Copyable {
        /// Directory listings by root-relative path (`""` is the root, `pkg/sub` a subpackage).
        var listings: [String: DirectoryListing] = [:]
    }

    /// Opens `root` as a source folder.
    ///
    /// - Throws: ``ModuleIndexError`` naming `root`: `rootNotFound` ("no such directory"),
    ///   `notADirectory` ("not a directory") or `unreadable` ("permission denied", …).
    public init(
        root: String,
        excludes: [String] = [],
        maxFileBytes: Int64 = ModuleIndex.defaultMaxFileBytes,
        logger: Logger = Logger(label: "rfs.module-index")
    ) throws {
        guard let real = FileSystem.realPath(root) else {
            throw ModuleIndexError.forRoot(errno: errno, path: root)
        }
        guard let info = FileSystem.status(real) else {
            throw ModuleIndexError.forRoot(errno: errno, path: root)
        }
        guard FileSystem.isDirectory(info) else {
            throw ModuleIndexError(kind: .notADirectory, path: root, detail: "not a directory")
        }
        let confinement = Confinement(root: real)
        let warnings = WarnOnceLog(logger: logger)
        self.rootPath = real
        self.maxFileBytes = max(0, maxFileBytes)
        self.warnings = warnings
        self.logger = logger
        self.cache = Mutex(CacheState())
        self.sourceReader = SourceFileReader(confinement: confinement)
        self.reader = DirectoryReader(
            confinement: confinement,
            excludes: ExcludePatterns(excludes),
            logger: logger,
            warnings: warnings
        )
        // Reading the root now reports an unreadable folder at startup, not at the first import.
        _ = try rootListing(refresh: true)
    }

    /// The absolute client path for a root-relative path.
    func absolutePath(_ relativePath: String) -> String {
        relativePath.isEmpty ? rootPath : FileSystem.join(rootPath, relativePath)
    }

    /// The root's listing; unlike other directories, a root that cannot be read is an error.
    func rootListing(refresh: Bool) throws -> DirectoryListing {
        if !refresh, let cached = validCachedListing(relativePath: "", path: rootPath) {
            return cached
        }
        do {
            let listing = try reader.read(path: rootPath, relativePath: "", verify: true)
            cache.withLock { $0.listings[""] = listing }
            return listing
        } catch {
            cache.withLock { _ = $0.listings.removeValue(forKey: "") }
            switch error {
            case .system(let code):
                throw ModuleIndexError.forRoot(errno: code, path: rootPath)
            case .outsideRoot(let actual):
                throw ModuleIndexError(
                    kind: .outsideRoot, path: rootPath, detail: "now resolves to \(actual)")
            }
        }
    }

    /// The listing of subdirectory `child` (root-relative `relativePath`), from the cache when
    /// still valid, else read now. `nil` when it cannot be read (gone, unreadable, outside the
    /// root): such a directory serves nothing.
    func listing(relativePath: String, child: ChildDirectory, refresh: Bool) -> DirectoryListing? {
        if !refresh, let cached = validCachedListing(relativePath: relativePath, path: child.path) {
            return cached
        }
        return readListing(relativePath: relativePath, child: child, store: true)
    }

    /// Reads a subdirectory now; `store` puts the result in the cache.
    /// `keepingFiles`: also list every file (the manifest's walk); such listings are never stored.
    func readListing(relativePath: String, child: ChildDirectory, store: Bool, keepingFiles: Bool = false) -> DirectoryListing? {
        let path = child.path
        do {
            let listing = try reader.read(
                path: path, relativePath: relativePath, verify: child.isSymlink, keepingFiles: keepingFiles)
            if store { cache.withLock { $0.listings[relativePath] = listing } }
            return listing
        } catch {
            if store { cache.withLock { _ = $0.listings.removeValue(forKey: relativePath) } }
            switch error {
            case .system(let code) where code == ENOENT || code == ENOTDIR || code == ELOOP:
                // Gone, or replaced by a file or symlink since its parent was listed.
                break
            case .system(let code):
                warnings.warn(
                    key: "unreadable:" + path, "cannot read directory; serving nothing from it",
                    metadata: ["path": "\(path)", "reason": "\(systemErrorMessage(code))"])
            case .outsideRoot(let actual):
                warnings.warn(
                    key: "outside:" + path, "directory resolves outside the source folder; not served",
                    metadata: ["path": "\(path)", "target": "\(actual)"])
            }
            return nil
        }
    }

    /// Stores listings read by a full walk in one lock acquisition.
    func storeListings(_ listings: [String: DirectoryListing]) {
        cache.withLock { state in
            state.listings.merge(listings) { _, new in new }
        }
    }

    private func validCachedListing(relativePath: String, path: String) -> DirectoryListing? {
        guard let cached = cache.withLock({ $0.listings[relativePath] }), cached.isSettled,
            cached.openedPath == path, let info = FileSystem.status(path), DirectoryStamp(info) == cached.stamp
        else { return nil }
        return cached
    }
}
