#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Logging
import RFSModuleIndex
import RFSWire

/// One folder of a manifest: its module index (rules, excludes, confinement) and its kind.
public struct ManifestRoot: Sendable {
    public var index: ModuleIndex
    public var kind: TreeManifest.RootKind

    public init(index: ModuleIndex, kind: TreeManifest.RootKind) {
        self.index = index
        self.kind = kind
    }

    /// The roots of a run in search order: the script's folder first as a `script` root (unless
    /// `includeScriptFolder` is false or it is already one of `sources`, by real path), then the
    /// `--source` folders.
    /// The script's folder gets `maxFileBytes` (nil: the first source's, else the default).
    public static func forRun(
        scriptFolder: String?, sources: [ModuleIndex], excludes: [String], maxFileBytes: Int64? = nil, logger: Logger
    ) throws -> [ManifestRoot] {
        var roots: [ManifestRoot] = []
        if let scriptFolder {
            let limit = maxFileBytes ?? sources.first?.maxFileBytes ?? ModuleIndex.defaultMaxFileBytes
            let script = try ModuleIndex(root: scriptFolder, excludes: excludes, maxFileBytes: limit, logger: logger)
            if !sources.contains(where: { $0.rootPath == script.rootPath }) {
                roots.append(ManifestRoot(index: script, kind: .script))
            }
        }
        roots += sources.map { ManifestRoot(index: $0, kind: .source) }
        return roots
    }
}

/// A manifest and, for each entry, where the client reads it.
public struct BuiltManifest: Sendable {
    public var manifest: TreeManifest
    /// Per entry index: the path to open (a confined symlink's target, else `root/path`).
    public var locations: [String]
    /// Per root: its real path (what ``locations`` must stay inside).
    public var rootPaths: [String]

    /// Root number and root-relative file of an entry index.
    public func entry(_ index: Int) -> (root: Int, file: TreeManifest.File)? {
        guard index >= 0 else { return nil }
        var start = 0
        for (number, root) in manifest.roots.enumerated() {
            if index < start + root.files.count { return (number, root.files[index - start]) }
            start += root.files.count
        }
        return nil
    }

    /// What the user sees for an entry: `root.path + "/" + file path`.
    public func clientPath(root: Int, file: TreeManifest.File) -> String {
        let base = manifest.roots[root].path
        return base.hasSuffix("/") ? base + file.path : base + "/" + file.path
    }
}

/// Builds the manifest of a run's folders (DESIGN.md §7): lists them with the module index's
/// rules (``ModuleIndex/treeFiles(scope:maxFiles:)``), refuses a tree over the size caps before
/// reading a byte, then hashes what the ``HashCache`` does not already know.
///
/// Synchronous file-system work on the calling thread: run it on a thread of its own or a
/// thread pool, never on an event loop or the cooperative pool.
public struct ManifestBuilder: Sendable {
    public static let defaultMaxTreeBytes: Int64 = 1 << 30
    public static let defaultMaxFiles = 200_000

    public var roots: [ManifestRoot]
    public var maxTreeBytes: Int64
    public var maxFiles: Int
    public var cache: HashCache
    public var hasher: FileHasher
    public var logger: Logger

    public init(
        roots: [ManifestRoot], maxTreeBytes: Int64 = ManifestBuilder.defaultMaxTreeBytes, maxFiles: Int = ManifestBuilder.defaultMaxFiles,
        cache: HashCache, hasher: FileHasher = FileHasher(), logger: Logger = Logger(label: "rfs.manifest")
    ) {
        self.roots = roots
        self.maxTreeBytes = maxTreeBytes
        self.maxFiles = maxFiles
        self.cache = cache
        self.hasher = hasher
        self.logger = logger
    }

    /// Native extensions are listed (so the worker can say why an import failed) but never
    /// served: rfs serves only Python source.
    public static func isNativeExtension(_ path: String) -> Bool {
        ModuleIndex.isNativeExtension(path)
    }

    /// Python source over the root's ``ModuleIndex/maxFileBytes`` (`--max-file-size`) is listed
    /// but, like a native extension, never hashed nor served: the worker's finder names the file
    /// and its size when a run imports it, and no run pays for reading it.
    public static func isOverSizeSource(_ path: String, size: Int64, limit: Int64) -> Bool {
        size > limit && path.hasSuffix(".py")
    }

    /// Listed, its stamp known, not yet hashed.
    struct Candidate {
        var root: Int
        var path: String
        var location: String
        var stamp: FileStamp
        /// Listed with a null sha256, never hashed nor counted against the tree's size: a native
        /// extension or source over the per-file limit.
        var listedOnly: Bool
    }

    /// Builds the manifest named `snapshot`, then saves the hash cache (a failure to save is
    /// logged, not thrown).
    public func build(snapshot: String) throws(ManifestError) -> BuiltManifest {
        var candidates: [[Candidate]] = []
        var total = 0
        for (number, root) in roots.enumerated() {
            let listed: ModuleIndex.TreeFiles
            do {
                listed = try root.index.treeFiles(scope: root.kind == .script ? .script : .source, maxFiles: maxFiles - total)
            } catch {
                throw .unreadableRoot(path: root.index.rootPath, reason: "\(error)")
            }
            var kept: [Candidate] = []
            kept.reserveCapacity(listed.files.count)
            for file in listed.files where !file.path.hasSuffix(".pyc") {
                // lstat for plain entries: a file swapped for a symlink is dropped, not followed.
                // A confined symlink's location is already its resolved target.
                var info = stat()
                guard lstat(file.location, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG else { continue }
                kept.append(
                    Candidate(
                        root: number, path: file.path, location: file.location, stamp: FileStamp(info),
                        listedOnly: Self.isNativeExtension(file.path)
                            || Self.isOverSizeSource(file.path, size: Int64(info.st_size), limit: root.index.maxFileBytes)))
            }
            total += kept.count
            candidates.append(kept)
            if listed.isTruncated || total > maxFiles {
                throw .tooLarge(Self.offenders(candidates, roots: roots, limit: .files(maxFiles)))
            }
        }
        let hashedBytes = candidates.joined().reduce(Int64(0)) { $0 + ($1.listedOnly ? 0 : $1.stamp.size) }
        if hashedBytes > maxTreeBytes {
            throw .tooLarge(Self.offenders(candidates, roots: roots, limit: .bytes(maxTreeBytes, found: hashedBytes)))
        }

        var manifestRoots: [TreeManifest.Root] = []
        var locations: [String] = []
        var readCount = 0
        for (number, root) in roots.enumerated() {
            var files: [TreeManifest.File] = []
            files.reserveCapacity(candidates[number].count)
            for candidate in candidates[number] {
                var sha: String?
                if !candidate.listedOnly {
                    if let known = cache.sha256(for: candidate.stamp) {
                        sha = known
                    } else {
                        let display = root.index.rootPath + "/" + candidate.path
                        do {
                            let (digest, stamp) = try hasher.hash(location: candidate.location, root: root.index.rootPath, displayPath: display)
                            readCount += 1
                            cache.store(digest, for: stamp)
                            sha = digest
                        } catch {
                            // Vanished or unreadable since it was listed: not part of this snapshot.
                            logger.warning("not listed in the run's tree", metadata: ["path": "\(error.path)", "reason": "\(error.reason)"])
                            continue
                        }
                    }
                }
                files.append(TreeManifest.File(path: candidate.path, size: candidate.stamp.size, sha256: sha))
                locations.append(candidate.location)
            }
            manifestRoots.append(TreeManifest.Root(path: root.index.rootPath, kind: root.kind, files: files))
        }
        logger.debug(
            "manifest built",
            metadata: ["snapshot": "\(snapshot)", "files": "\(locations.count)", "hashed": "\(readCount)", "bytes": "\(hashedBytes)"])
        do {
            try cache.save()
        } catch {
            logger.warning("\(error)")
        }
        return BuiltManifest(
            manifest: TreeManifest(snapshot: snapshot, roots: manifestRoots), locations: locations,
            rootPaths: roots.map(\.index.rootPath))
    }

    /// The size report of an oversized tree: the five biggest top-level entries (a module file
    /// or a whole top-level directory, per root) and the three biggest files.
    static func offenders(_ candidates: [[Candidate]], roots: [ManifestRoot], limit: ManifestError.Limit) -> ManifestError.TooLarge {
        var topLevel: [String: Int64] = [:]
        var biggest: [(String, Int64)] = []
        for candidate in candidates.joined() where !candidate.listedOnly {
            let base = roots[candidate.root].index.rootPath
            let first = candidate.path.split(separator: "/", maxSplits: 1).first.map(String.init) ?? candidate.path
            topLevel[base + "/" + first, default: 0] += candidate.stamp.size
            biggest.append((base + "/" + candidate.path, candidate.stamp.size))
            if biggest.count > 64 {
                biggest.sort { $0.1 > $1.1 }
                biggest.removeLast(biggest.count - 3)
            }
        }
        let entries = topLevel.sorted { $0.value != $1.value ? $0.value > $1.value : $0.key < $1.key }.prefix(5).map { ($0.key, $0.value) }
        let files = biggest.sorted { $0.1 != $1.1 ? $0.1 > $1.1 : $0.0 < $1.0 }.prefix(3)
        return ManifestError.TooLarge(limit: limit, topLevelEntries: Array(entries), biggestFiles: Array(files))
    }
}
