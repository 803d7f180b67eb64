/// How much one prefetch may carry: the modules below a package that travel with it.
public struct PrefetchLimits: Sendable, Hashable {
    /// At most this many modules (0 turns prefetching off).
    public var maxModules: Int
    /// At most this many bytes of source text, in UTF-8.
    public var maxBytes: Int

    public init(maxModules: Int, maxBytes: Int) {
        self.maxModules = max(0, maxModules)
        self.maxBytes = max(0, maxBytes)
    }

    /// What `rfs run` and `rfs serve` send unless told otherwise: enough for a few hundred
    /// typical modules, little enough to cost tens of milliseconds on a slow link.
    public static let `default` = PrefetchLimits(maxModules: 1024, maxBytes: 4 << 20)

    public static let disabled = PrefetchLimits(maxModules: 0, maxBytes: 0)

    /// The tighter of two limits, per field (the client's wish against the worker's maximum).
    public func clamped(to other: PrefetchLimits) -> PrefetchLimits {
        PrefetchLimits(maxModules: min(maxModules, other.maxModules), maxBytes: min(maxBytes, other.maxBytes))
    }

    public var isDisabled: Bool { maxModules == 0 || maxBytes == 0 }
}

/// `descendants`: the specs a package's `fetch_module` reply can carry along, so that importing
/// a package costs one round trip instead of one per module.
extension ModuleIndex {
    /// The modules below package `name`, nearest first (all children, then all grandchildren, …;
    /// by name within a level), each with its source read now, until `limits` would be exceeded.
    ///
    /// Each spec is exactly what ``lookup(_:)`` would answer for its name at this moment: the
    /// directories are listed afresh, and sources are read through the same confinement checks.
    /// A module whose source cannot be served (undecodable, unreadable, vanished) is left out, so
    /// the worker asks for it on its own and gets the error reply that names the file.
    ///
    /// - Returns: `[]` when `name` is not a package of this folder or the limits are zero.
    public func descendants(of name: String, limits: PrefetchLimits) -> [ModuleSpec] {
        guard !limits.isDisabled, let components = ModuleName.components(of: name),
            let location = try? locate(components: components, refresh: false)
        else { return [] }
        let listing: DirectoryListing
        switch location.resolution {
        case .package(let package), .namespace(let package): listing = package
        case .module: return []
        }
        // Breadth first, one directory at a time: a package's own imports are most often its
        // direct children, and when the limits cut the list short the deeper modules are the
        // ones asked for separately. Stopping there also bounds the directories read in a huge
        // tree to about those of the modules sent.
        var walk = IndexWalk(index: self, recurse: false)
        var queue = [PendingDirectory(
            listing: listing, relativePath: location.relativePath, name: name,
            ancestors: Array(location.visited) + [listing.stamp.identity])]
        var specs: [ModuleSpec] = []
        var bytes = 0
        var next = 0
        while next < queue.count {
            let directory = queue[next]
            next += 1
            let first = walk.entries.count
            walk.visit(
                directory.listing, relativePath: directory.relativePath, dottedPrefix: directory.name,
                ancestors: directory.ancestors)
            for position in first..<walk.entries.count {
                guard specs.count < limits.maxModules else { return specs }
                let entry = walk.entries[position]
                if let below = entry.directoryPath, let child = walk.listings[below] ?? nil {
                    queue.append(PendingDirectory(
                        listing: child, relativePath: below, name: entry.name,
                        ancestors: directory.ancestors + [child.stamp.identity]))
                }
                let spec: ModuleSpec
                switch prefetched(entry, sourcePath: walk.sourcePaths[position], budget: limits.maxBytes - bytes) {
                case .spec(let found): spec = found
                case .skipped: continue
                case .overBudget: return specs
                }
                bytes += spec.source?.utf8.count ?? 0
                guard bytes <= limits.maxBytes else { return specs }
                specs.append(spec)
            }
        }
        return specs
    }

    private struct PendingDirectory {
        var listing: DirectoryListing
        var relativePath: String
        var name: String
        var ancestors: [FileIdentity]
    }

    private enum Prefetched {
        case spec(ModuleSpec)
        /// Not served (undecodable, unreadable, vanished, over ``maxFileBytes``): the worker
        /// asks for it on its own and gets the error reply that names the file.
        case skipped
        /// Its file alone is bigger than what is left of the byte budget: the walk ends here.
        case overBudget
    }

    /// The spec of one module below the package, its file read only when it fits `budget` (bytes
    /// of UTF-8 text still allowed) and ``maxFileBytes``.
    private func prefetched(_ entry: ModuleEntry, sourcePath: String?, budget: Int) -> Prefetched {
        switch entry.kind {
        case .namespace:
            return .spec(ModuleSpec(
                name: entry.name, origin: nil, isPackage: true,
                submoduleSearchLocations: [absolutePath(entry.path)], source: nil))
        case .module, .package:
            guard let sourcePath else { return .skipped }
            // A decoded text is never shorter than its file but for a UTF-8 BOM (3 bytes), so a
            // file over budget + 3 bytes cannot fit: it is not read.
            let budgetLimit = Int64(max(budget, 0)) + 3
            do {
                guard let spec = try sourceSpec(
                    name: entry.name, filePath: sourcePath, origin: absolutePath(entry.path),
                    packageDirectory: entry.directoryPath.map(absolutePath), limit: min(budgetLimit, maxFileBytes))
                else { return .skipped }
                return .spec(spec)
            } catch let error as ModuleIndexError where error.kind == .tooLarge {
                // Within the per-file limit, only the budget refused it.
                if case .tooLarge(let size, _)? = error.problem, size <= maxFileBytes { return .overBudget }
                logger.debug("not prefetched; the worker will ask for it", metadata: ["module": "\(entry.name)", "error": "\(error)"])
                return .skipped
            } catch {
                logger.debug(
                    "not prefetched; the worker will ask for it", metadata: ["module": "\(entry.name)", "error": "\(error)"])
                return .skipped
            }
        }
    }
}

extension ModuleEntry {
    /// The root-relative directory of a package or namespace package; `nil` for a module.
    var directoryPath: String? {
        switch kind {
        case .module: nil
        case .package: String(path.dropLast("/__init__.py".count))
        case .namespace: path
        }
    }
}
