/// One directory's entries, classified once by the skip rules and kept sorted by name.
///
/// Listings are immutable snapshots; the index caches them by relative path and replaces a
/// listing when its ``stamp`` no longer matches the directory on disk or when a lookup misses.
/// Entries are sorted arrays rather than dictionaries: a walk merges them in order without
/// sorting again, a lookup binary-searches them, and names match byte for byte as on the file
/// system (a `String`-keyed dictionary would also match canonically equivalent spellings).
/// A class, so that passing one around (cache, walk memo) costs one reference count.
final class DirectoryListing: Sendable {
    /// The path the directory was opened by (real: root-relative joins of real paths, or a
    /// symlink's resolved target); a parent's listing maps a child name to this path.
    let openedPath: String
    /// Identity and modification time when read.
    let stamp: DirectoryStamp
    /// The directory had not been modified for ``DirectoryStamp/settleIntervalNanoseconds`` when
    /// reading began. Only then does an unchanged stamp prove an unchanged directory: file systems
    /// stamp with a coarse clock (ext4: one kernel tick, a few ms; FAT: 2 s), so an entry added in
    /// the same tick as the last change leaves the mtime as it was. Unsettled listings are re-read.
    let isSettled: Bool
    /// `__init__.py` is here (a regular file or a confined symlink to one, not excluded).
    let hasInitFile: Bool
    /// `pyvenv.cfg` is here: the directory is a virtual environment and skipped entirely.
    let isVirtualEnvironment: Bool
    /// Some non-skipped `*.py` regular file is directly here (any name, `__init__.py` included);
    /// used to decide whether an ancestor is a namespace package.
    let hasPythonFile: Bool
    /// Importable `NAME.py` files (identifiers only, `__init__` excluded), sorted by `NAME`.
    let moduleFiles: [ModuleFile]
    /// Non-skipped subdirectories, including non-identifiers (they still count towards "holds a
    /// `.py` file at some depth"), sorted by name.
    let subdirectories: [ChildDirectory]
    /// Every regular file not skipped or excluded, any name, sorted by name: only read for the
    /// manifest (``DirectoryReader/read(path:relativePath:verify:keepingFiles:)``), else empty.
    let files: [ListedFile]
    /// `*.dist-info` / `*.egg-info` subdirectories (skipped for imports): only read for the
    /// manifest, else empty.
    let metadataDirectories: [ChildDirectory]

    init(
        openedPath: String, stamp: DirectoryStamp, isSettled: Bool, hasInitFile: Bool,
        isVirtualEnvironment: Bool, hasPythonFile: Bool, moduleFiles: [ModuleFile],
        subdirectories: [ChildDirectory], files: [ListedFile] = [], metadataDirectories: [ChildDirectory] = []
    ) {
        self.files = Self.sortedByKey(files)
        self.metadataDirectories = Self.sortedByKey(metadataDirectories)
        self.openedPath = openedPath
        self.stamp = stamp
        self.isSettled = isSettled
        self.hasInitFile = hasInitFile
        self.isVirtualEnvironment = isVirtualEnvironment
        self.hasPythonFile = hasPythonFile
        self.moduleFiles = Self.sortedByKey(moduleFiles)
        self.subdirectories = Self.sortedByKey(subdirectories)
    }

    /// `elements` sorted by key. Sorting the elements themselves would copy (retain and release)
    /// their strings at every comparison and move; this sorts their indices instead and copies
    /// each element once. Keys are unique within a directory (they are its entries' names), so
    /// stability does not matter.
    private static func sortedByKey<Element: NameKeyed>(_ elements: [Element]) -> [Element] {
        guard elements.count > 1 else { return elements }
        return elements.withUnsafeBufferPointer { buffer in
            var isSorted = true
            for index in 1..<buffer.count where buffer[index].key < buffer[index - 1].key {
                isSorted = false
                break
            }
            if isSorted { return elements }
            var order = Array(buffer.indices)
            order.sort { buffer[$0].key < buffer[$1].key }
            return order.map { buffer[$0] }
        }
    }

    /// The `NAME.py` file for module `name`, if any.
    func moduleFile(named name: String) -> ModuleFile? {
        Self.find(NameKey(name), in: moduleFiles, key: \.key)
    }

    /// The subdirectory called `name`, if any.
    func subdirectory(named name: String) -> ChildDirectory? {
        Self.find(NameKey(name), in: subdirectories, key: \.key)
    }

    private static func find<Element>(
        _ wanted: NameKey, in elements: [Element], key: (Element) -> NameKey
    ) -> Element? {
        var low = 0
        var high = elements.count
        while low < high {
            let middle = (low + high) / 2
            let candidate = key(elements[middle])
            if candidate < wanted {
                low = middle + 1
            } else if wanted < candidate {
                high = middle
            } else {
                return elements[middle]
            }
        }
        return nil
    }
}

/// A listing element ordered by ``NameKey``.
protocol NameKeyed {
    var key: NameKey { get }
}

/// An importable `NAME.py` entry.
struct ModuleFile: Sendable, NameKeyed {
    /// The module name (`NAME`).
    let key: NameKey
    /// The file's name in the directory (`NAME.py`).
    let fileName: String

    var name: String { key.name }
}

/// A regular file of a directory, kept for the manifest.
struct ListedFile: Sendable, NameKeyed {
    let key: NameKey
    /// Real path to open: `parent/name`, or the resolved target of a confined symlink.
    let path: String
    let isSymlink: Bool

    var name: String { key.name }
}

/// A subdirectory entry: where to open it and whether its name can be imported.
struct ChildDirectory: Sendable, NameKeyed {
    let key: NameKey
    /// Real path to open: `parent/name`, or the resolved target of a confined symlink.
    let path: String
    let isIdentifier: Bool
    /// Reached through a symlink: opening it re-checks its real path (see ``DirectoryReader``).
    let isSymlink: Bool

    var name: String { key.name }
}

/// A name with its first eight UTF-8 bytes packed big-endian into an integer, so that most
/// comparisons in sorting and binary search are one integer compare. Orders by code point (UTF-8
/// bytes), Python's `sorted()` order; names never contain NUL, so zero padding sorts a prefix
/// before its extensions.
struct NameKey: Sendable, Comparable {
    let prefix: UInt64
    let name: String

    init(_ name: String) {
        var prefix: UInt64 = 0
        var count = 0
        for byte in name.utf8 {
            guard count < 8 else { break }
            prefix |= UInt64(byte) << (56 - 8 * count)
            count += 1
        }
        self.prefix = prefix
        self.name = name
    }

    static func < (left: NameKey, right: NameKey) -> Bool {
        if left.prefix != right.prefix { return left.prefix < right.prefix }
        return CodePointOrder.precedes(left.name, right.name)
    }

    static func == (left: NameKey, right: NameKey) -> Bool {
        left.prefix == right.prefix && left.name.utf8.elementsEqual(right.name.utf8)
    }
}
