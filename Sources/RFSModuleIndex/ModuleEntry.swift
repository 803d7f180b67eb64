/// What kind of importable thing a name resolves to, in CPython's FileFinder terms.
///
/// The raw values are part of the `rfs list --json` contract (DESIGN.md §4).
public enum ModuleKind: String, Sendable, Codable {
    /// `NAME.py`.
    case module
    /// A regular package: directory `NAME` holding `__init__.py`.
    case package
    /// A namespace package: directory `NAME` without `__init__.py` that holds a `.py` file at some depth.
    case namespace
}

/// One importable module as `rfs list` shows it.
///
/// `path` is relative to the index root with `/` separators so listings are identical on every
/// client machine and can be compared in tests; the absolute form is in ``ModuleSpec``.
public struct ModuleEntry: Sendable, Hashable, Codable {
    /// Dotted module name, e.g. `pkg.sub`.
    public var name: String
    public var kind: ModuleKind
    /// Relative path: the file for modules, `…/__init__.py` for packages, the directory for namespaces.
    public var path: String

    public init(name: String, kind: ModuleKind, path: String) {
        self.name = name
        self.kind = kind
        self.path = path
    }
}
