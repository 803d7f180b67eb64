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

    init(index: ModuleIndex, recurse: Bool) {
        self.index = index
        self.recurse = recurse
    }

    mutating func visit(
        _ directory: DirectoryListing, relativePath: String, dottedPrefix: String, ancestors: Set<FileIdentity>
    ) {
        // Each importable name once, with what could serve it: a NAME.py and/or a directory.
        var children: [(name: String, fileName: String?, directory: ChildDirectory?)] = []
        children.reserveCapacity(directory.moduleFiles.count + directory.subdirectories.count)
        for (name, fileName) in directory.moduleFiles {
            let child = directory.subdirectories[name]
            children.append((name, fileName, child?.isIdentifier == true ? child : nil))
        }
        for (name, child) in directory.subdirectories where child.isIdentifier && directory.moduleFiles[name] == nil {
            children.append((name, nil, child))
        }
        children.sort { CodePointOrder.precedes($0.name, $1.name) }

        for (name, fileName, child) in children {
            let dottedName = CodePointOrder.join(dottedPrefix, ".", name)
            var candidate: DirectoryListing?
            var childRelative = ""
            if let child {
                childRelative = CodePointOrder.join(relativePath, "/", name)
                if let listing = listing(relativePath: childRelative, path: child.path),
                    !listing.isVirtualEnvironment, !ancestors.contains(listing.stamp.identity)
                {
                    candidate = listing
                }
            }

            if let package = candidate, package.hasInitFile {
                entries.append(ModuleEntry(name: dottedName, kind: .package, path: childRelative + "/__init__.py"))
                descend(into: package, relativePath: childRelative, dottedName: dottedName, ancestors: ancestors)
            } else if let fileName {
                let path = CodePointOrder.join(relativePath, "/", fileName)
                entries.append(ModuleEntry(name: dottedName, kind: .module, path: path))
            } else if let namespace = candidate,
                holdsPythonFile(namespace, relativePath: childRelative, ancestors: ancestors)
            {
                entries.append(ModuleEntry(name: dottedName, kind: .namespace, path: childRelative))
                descend(into: namespace, relativePath: childRelative, dottedName: dottedName, ancestors: ancestors)
            }
        }
    }

    private mutating func descend(
        into directory: DirectoryListing, relativePath: String, dottedName: String, ancestors: Set<FileIdentity>
    ) {
        guard recurse else { return }
        var deeper = ancestors
        deeper.insert(directory.stamp.identity)
        visit(directory, relativePath: relativePath, dottedPrefix: dottedName, ancestors: deeper)
    }

    private mutating func listing(relativePath: String, path: String) -> DirectoryListing? {
        if let known = listings[relativePath] { return known }
        let listing = index.readListing(relativePath: relativePath, path: path, store: false)
        listings[relativePath] = .some(listing)
        return listing
    }

    private mutating func holdsPythonFile(
        _ directory: DirectoryListing, relativePath: String, ancestors: Set<FileIdentity>
    ) -> Bool {
        if directory.hasPythonFile { return true }
        var deeper = ancestors
        deeper.insert(directory.stamp.identity)
        for child in directory.subdirectories.values {
            let childRelative = relativePath + "/" + child.name
            guard let listing = listing(relativePath: childRelative, path: child.path),
                !listing.isVirtualEnvironment, !deeper.contains(listing.stamp.identity)
            else { continue }
            if holdsPythonFile(listing, relativePath: childRelative, ancestors: deeper) { return true }
        }
        return false
    }
}
