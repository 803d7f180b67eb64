/// One directory's entries, classified once by the skip rules so that lookups are dictionary hits.
///
/// Listings are immutable snapshots; the index caches them by relative path and replaces a
/// listing when its ``stamp`` no longer matches the directory on disk or when a lookup misses.
struct DirectoryListing: Sendable {
    /// The path the directory was opened by (real: root-relative joins of real paths, or a
    /// symlink's resolved target); a parent's listing maps a child name to this path.
    let openedPath: String
    /// Identity and modification time when read.
    let stamp: DirectoryStamp
    /// The directory had not been modified for ``DirectoryStamp/settleInterval`` when reading
    /// began. Only then does an unchanged stamp prove an unchanged directory: file systems stamp
    /// with a coarse clock (ext4: one kernel tick, a few ms; FAT: 2 s), so an entry added in the
    /// same tick as the last change leaves the mtime as it was. Unsettled listings are re-read.
    let isSettled: Bool
    /// `__init__.py` is here (a regular file or a confined symlink to one, not excluded).
    let hasInitFile: Bool
    /// `pyvenv.cfg` is here: the directory is a virtual environment and skipped entirely.
    let isVirtualEnvironment: Bool
    /// Some non-skipped `*.py` regular file is directly here (any name, `__init__.py` included);
    /// used to decide whether an ancestor is a namespace package.
    let hasPythonFile: Bool
    /// Importable `NAME.py` files by `NAME` (identifiers only, `__init__` excluded).
    let moduleFiles: [String: String]
    /// Non-skipped subdirectories by name, including non-identifiers (they still count towards
    /// "holds a `.py` file at some depth").
    let subdirectories: [String: ChildDirectory]
}

/// A subdirectory entry: where to open it and whether its name can be imported.
struct ChildDirectory: Sendable {
    let name: String
    /// Real path to open: `parent/name`, or the resolved target of a confined symlink.
    let path: String
    let isIdentifier: Bool
}
