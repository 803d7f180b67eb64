/// `entries`: everything the folder serves, for `rfs list` and the client's top-level names.
extension ModuleIndex {
    /// Every importable module, sorted by name (Unicode code point order, as Python's `sorted`).
    ///
    /// Reads the tree afresh (and refreshes the lookup cache with what it read). With
    /// `topLevelOnly`, only the root's children are returned, though deciding whether a directory
    /// is a namespace package may still look below it.
    ///
    /// - Throws: ``ModuleIndexError`` when the root cannot be read. Unreadable subdirectories are
    ///   logged and serve nothing; they do not fail the listing.
    public func entries(topLevelOnly: Bool = false) throws -> [ModuleEntry] {
        let root = try rootListing(refresh: true)
        var walk = IndexWalk(index: self, recurse: !topLevelOnly)
        walk.visit(root, relativePath: "", dottedPrefix: "", ancestors: [root.stamp.identity])
        storeListings(walk.listings.compactMapValues { $0 })
        return walk.entries
    }

    /// The names of the top-level modules, sorted: what the client announces to the worker.
    public func topLevelNames() throws -> [String] {
        try entries(topLevelOnly: true).map(\.name)
    }
}

/// One depth-first walk of the tree. Each directory is read at most once per walk (the namespace
/// check and the descent share ``listings``).
///
/// Visiting siblings in name order yields entries already sorted by dotted name: `.` sorts
/// before every byte that can follow an identifier prefix, so `pkg`, `pkg.*`, then `pkg2`/`pkg_a`.
struct IndexWalk {
    let index: ModuleIndex
    let recurse: Bool
    var listings: [String: DirectoryListing?] = [:]
    var entries: [ModuleEntry] = []
    /// For each of ``entries``, the path to read its source through (the module file or the
    /// package's `__init__.py`, joined onto the opened directory as ``ModuleIndex/lookup`` does);
    /// `nil` for namespace packages.
    var sourcePaths: [String?] = []

    init(index: ModuleIndex, recurse: Bool) {
        self.index = index
        self.recurse = recurse
    }

    mutating func visit(
        _ directory: DirectoryListing, relativePath: String, dottedPrefix: String, ancestors: [FileIdentity]
    ) {
        // Each importable name once, in order, with what could serve it: merge the two sorted
        // lists (NAME.py files, identifier directories). Merged in place, by index: this runs
        // once per module of the tree, so it copies no element it does not need.
        let files = directory.moduleFiles
        let directories = directory.subdirectories
        var fileIndex = 0
        var directoryIndex = 0
        func nextIdentifierDirectory() {
            while directoryIndex < directories.count, !directories[directoryIndex].isIdentifier {
                directoryIndex += 1
            }
        }
        nextIdentifierDirectory()
        while fileIndex < files.count || directoryIndex < directories.count {
            if directoryIndex == directories.count
                || (fileIndex < files.count && files[fileIndex].key < directories[directoryIndex].key)
            {
                visitChild(
                    name: files[fileIndex].name, fileName: files[fileIndex].fileName, directory: nil,
                    in: directory, relativePath: relativePath, dottedPrefix: dottedPrefix, ancestors: ancestors)
                fileIndex += 1
            } else if fileIndex < files.count, files[fileIndex].key == directories[directoryIndex].key {
                visitChild(
                    name: files[fileIndex].name, fileName: files[fileIndex].fileName,
                    directory: directories[directoryIndex],
                    in: directory, relativePath: relativePath, dottedPrefix: dottedPrefix, ancestors: ancestors)
                fileIndex += 1
                directoryIndex += 1
                nextIdentifierDirectory()
            } else {
                visitChild(
                    name: directories[directoryIndex].name, fileName: nil, directory: directories[directoryIndex],
                    in: directory, relativePath: relativePath, dottedPrefix: dottedPrefix, ancestors: ancestors)
                directoryIndex += 1
                nextIdentifierDirectory()
            }
        }
    }

    /// One importable name of a directory: a package (directory with `__init__.py`) wins over the
    /// module `NAME.py`, which wins over a namespace package (CPython's FileFinder order).
    private mutating func visitChild(
        name: String, fileName: String?, directory child: ChildDirectory?, in parent: DirectoryListing,
        relativePath: String, dottedPrefix: String, ancestors: [FileIdentity]
    ) {
        let dottedName = CodePointOrder.join(dottedPrefix, ".", name)
        var candidate: DirectoryListing?
        var childRelative = ""
        if let child {
            childRelative = CodePointOrder.join(relativePath, "/", name)
            if let listing = listing(relativePath: childRelative, child: child),
                !listing.isVirtualEnvironment, !ancestors.contains(listing.stamp.identity)
            {
                candidate = listing
            }
        }

        if let package = candidate, package.hasInitFile {
            let path = CodePointOrder.join(relativePath, "/", name, "/__init__.py")
            entries.append(ModuleEntry(name: dottedName, kind: .package, path: path))
            sourcePaths.append(FileSystem.join(package.openedPath, "__init__.py"))
            descend(into: package, relativePath: childRelative, dottedName: dottedName, ancestors: ancestors)
        } else if let fileName {
            let path = CodePointOrder.join(relativePath, "/", fileName)
            entries.append(ModuleEntry(name: dottedName, kind: .module, path: path))
            sourcePaths.append(FileSystem.join(parent.openedPath, fileName))
        } else if let namespace = candidate,
            holdsPythonFile(namespace, relativePath: childRelative, ancestors: ancestors)
        {
            entries.append(ModuleEntry(name: dottedName, kind: .namespace, path: childRelative))
            sourcePaths.append(nil)
            descend(into: namespace, relativePath: childRelative, dottedName: dottedName, ancestors: ancestors)
        }
    }

    private mutating func descend(
        into directory: DirectoryListing, relativePath: String, dottedName: String, ancestors: [FileIdentity]
    ) {
        guard recurse else { return }
        var deeper = ancestors
        deeper.append(directory.stamp.identity)
        visit(directory, relativePath: relativePath, dottedPrefix: dottedName, ancestors: deeper)
    }

    private mutating func listing(relativePath: String, child: ChildDirectory) -> DirectoryListing? {
        if let known = listings[relativePath] { return known }
        let listing = index.readListing(relativePath: relativePath, child: child, store: false)
        listings[relativePath] = .some(listing)
        return listing
    }

    private mutating func holdsPythonFile(
        _ directory: DirectoryListing, relativePath: String, ancestors: [FileIdentity]
    ) -> Bool {
        if directory.hasPythonFile { return true }
        var deeper = ancestors
        deeper.append(directory.stamp.identity)
        for child in directory.subdirectories {
            let childRelative = relativePath + "/" + child.name
            guard let listing = listing(relativePath: childRelative, child: child),
                !listing.isVirtualEnvironment, !deeper.contains(listing.stamp.identity)
            else { continue }
            if holdsPythonFile(listing, relativePath: childRelative, ancestors: deeper) { return true }
        }
        return false
    }
}
