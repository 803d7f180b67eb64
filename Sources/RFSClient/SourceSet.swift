import RFSModuleIndex
import RFSProtocol
import RFSWire

/// The client's `--source` folders, searched in order like `sys.path` entries: the first folder
/// that has a name serves it.
public struct SourceSet: Sendable {
    public let indexes: [ModuleIndex]

    public init(indexes: [ModuleIndex]) {
        self.indexes = indexes
    }

    /// `maxFileBytes`: the largest source file served (`--max-file-size`); see
    /// ``ModuleIndex/maxFileBytes``.
    public init(directories: [String], excludes: [String] = [], maxFileBytes: Int64 = ModuleIndex.defaultMaxFileBytes) throws {
        indexes = try directories.map { try ModuleIndex(root: $0, excludes: excludes, maxFileBytes: maxFileBytes) }
    }

    /// The most source text one `fetch_module` reply can carry: the largest file served plus
    /// what prefetching may add (and a little for the reply's own fields).
    public func maxReplyBytes(prefetching limits: PrefetchLimits) -> Int {
        let largest = indexes.map { Int(clamping: $0.maxFileBytes) }.max() ?? 0
        return largest + (limits.isDisabled ? 0 : limits.maxBytes) + 1024
    }

    /// The top-level names announced in the run's execution context.
    public func topLevelNames() throws -> [String] {
        var seen = Set<String>()
        var names: [String] = []
        for index in indexes {
            for name in try index.topLevelNames() where seen.insert(name).inserted {
                names.append(name)
            }
        }
        return names.sorted()
    }

    /// The spec for `name` from the first folder that has it.
    public func lookup(_ name: String) throws -> ModuleSpec? {
        try lookup(name, prefetching: .disabled)?.spec
    }

    /// The spec for `name` from the first folder that has it and, when it is a package, the
    /// modules below it in that folder within `limits` (see ``ModuleIndex/descendants(of:limits:)``).
    /// Synchronous file I/O: callers run it on a thread pool (``ClientSession`` uses
    /// `NIOThreadPool.singleton`), never on an event loop or the cooperative pool.
    ///
    /// Every folder before the one that serves a package lacks the package's name, hence every
    /// name below it: each prefetched spec is what ``lookup(_:)`` would answer for its name.
    public func lookup(_ name: String, prefetching limits: PrefetchLimits) throws -> ModuleLookup? {
        for index in indexes {
            guard let spec = try index.lookup(name) else { continue }
            let prefetched = spec.isPackage ? index.descendants(of: name, limits: limits) : []
            return ModuleLookup(spec: spec, prefetched: prefetched)
        }
        return nil
    }
}

/// A module found by ``SourceSet/lookup(_:prefetching:)`` and what travels with it.
public struct ModuleLookup: Sendable {
    public var spec: ModuleSpec
    public var prefetched: [ModuleSpec]

    /// The `fetch_module` result: the spec's, plus `"prefetched"` when there is any.
    public var result: FetchModuleResult {
        var result = FetchModuleResult(spec: spec)
        result.prefetched = prefetched.map(FetchModuleResult.init(spec:))
        return result
    }

    /// Bytes of source text in the reply (the module's and the prefetched ones').
    public var sourceBytes: Int {
        prefetched.reduce(spec.source?.utf8.count ?? 0) { $0 + ($1.source?.utf8.count ?? 0) }
    }
}

extension FetchModuleResult {
    /// The `fetch_module` result of DESIGN.md §3 for a spec of the module index.
    public init(spec: ModuleSpec) {
        self.init(
            name: spec.name, origin: spec.origin, isPackage: spec.isPackage,
            submoduleSearchLocations: spec.submoduleSearchLocations, source: spec.source)
    }
}

extension PrefetchLimits {
    /// What the worker's `prefetch` capability allows; nil (a worker that does not prefetch, such
    /// as the reference plugin) means no prefetching.
    init(offer: PrefetchOffer?) {
        guard let offer else {
            self = .disabled
            return
        }
        self.init(maxModules: offer.maxModules, maxBytes: offer.maxBytes)
    }
}
