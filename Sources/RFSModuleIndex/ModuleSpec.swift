/// What the client answers to `fetch_module` (DESIGN.md §3): enough for the worker to build a
/// `ModuleSpec` with a loader that serves `source` and reports `origin` as `__file__`.
public struct ModuleSpec: Sendable, Hashable {
    /// Dotted module name as requested.
    public var name: String
    /// Absolute client path of the file (the index's real root joined with the module's relative
    /// path); `nil` for a namespace package, which has no file.
    public var origin: String?
    /// `true` for regular and namespace packages (both have `__path__`), as CPython reports it.
    public var isPackage: Bool
    /// The package's directory as an absolute client path; `nil` for plain modules.
    public var submoduleSearchLocations: [String]?
    /// Decoded source text (PEP 263), exactly as in the file apart from a leading UTF-8 BOM;
    /// `nil` for a namespace package.
    public var source: String?

    public init(
        name: String,
        origin: String?,
        isPackage: Bool,
        submoduleSearchLocations: [String]?,
        source: String?
    ) {
        self.name = name
        self.origin = origin
        self.isPackage = isPackage
        self.submoduleSearchLocations = submoduleSearchLocations
        self.source = source
    }

    /// The kind derived from the spec's shape, so callers need not re-derive it from optionals.
    public var kind: ModuleKind {
        if origin == nil { return .namespace }
        return isPackage ? .package : .module
    }
}
