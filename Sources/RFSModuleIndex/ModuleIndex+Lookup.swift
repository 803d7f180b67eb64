/// `lookup`: the hot path of every remote import.
extension ModuleIndex {
    /// Resolves a dotted module name to its spec, reading the source now.
    ///
    /// Each component is looked up in its parent directory's (cached) listing with CPython's
    /// FileFinder precedence: regular package, then `NAME.py`, then namespace package. A miss
    /// re-reads the directories along the path once before answering `nil`, so files added while
    /// serving are found. Safe to call concurrently from any number of threads.
    ///
    /// - Returns: `nil` when nothing by that name is served — including names that are not dotted
    ///   identifiers (`a/b`, `..`, `a..b`, `""`) and names under a plain module.
    /// - Throws: ``ModuleIndexError`` when the module exists but its source cannot be served
    ///   (`undecodableSource`, `tooLarge`, `unreadable`, `outsideRoot`), or the root itself is gone.
    public func lookup(_ moduleName: String) throws -> ModuleSpec? {
        guard let components = ModuleName.components(of: moduleName) else { return nil }
        if let spec = try resolve(moduleName, components: components, refresh: false) {
            return spec
        }
        logger.trace("lookup missed; re-reading directories on its path", metadata: ["module": "\(moduleName)"])
        return try resolve(moduleName, components: components, refresh: true)
    }

    enum Resolution {
        case module(fileName: String)
        case package(DirectoryListing)
        case namespace(DirectoryListing)
    }

    /// Where a dotted name resolved: what it is, the listing of the directory holding it, its
    /// root-relative path (the file for a module, the directory otherwise) and the identities of
    /// the directories on the way (to refuse symlink cycles below it).
    struct Location {
        var resolution: Resolution
        var parent: DirectoryListing
        var relativePath: String
        var parentRelativePath: String
        var visited: Set<FileIdentity>
    }

    private func resolve(_ name: String, components: [Substring], refresh: Bool) throws -> ModuleSpec? {
        guard let location = try locate(components: components, refresh: refresh) else { return nil }
        switch location.resolution {
        case .module(let fileName):
            return try sourceSpec(
                name: name,
                filePath: FileSystem.join(location.parent.openedPath, fileName),
                origin: absolutePath(location.relativePath),
                packageDirectory: nil)
        case .package(let listing):
            return try sourceSpec(
                name: name,
                filePath: FileSystem.join(listing.openedPath, "__init__.py"),
                origin: absolutePath(location.relativePath + "/__init__.py"),
                packageDirectory: absolutePath(location.relativePath))
        case .namespace:
            return ModuleSpec(
                name: name, origin: nil, isPackage: true,
                submoduleSearchLocations: [absolutePath(location.relativePath)], source: nil)
        }
    }

    /// Walks `components` down from the root with FileFinder precedence at each level.
    func locate(components: [Substring], refresh: Bool) throws -> Location? {
        var directory = try rootListing(refresh: refresh)
        var relativePath = ""
        // Directories already on the path: a symlink back to one of them is a cycle, not a package.
        var visited: Set<FileIdentity> = [directory.stamp.identity]

        for (position, component) in components.enumerated() {
            let isLast = position == components.count - 1
            let childName = String(component)
            let childRelative = relativePath.isEmpty ? childName : relativePath + "/" + childName
            let resolution = resolveChild(
                childName, in: directory, relativePath: childRelative, refresh: refresh, visited: visited)
            switch resolution {
            case nil:
                return nil
            case .module(let fileName):
                // A plain module has no `__path__`, so nothing can be imported below it.
                guard isLast else { return nil }
                let fileRelative = relativePath.isEmpty ? fileName : relativePath + "/" + fileName
                return Location(
                    resolution: .module(fileName: fileName), parent: directory, relativePath: fileRelative,
                    parentRelativePath: relativePath, visited: visited)
            case .package(let listing), .namespace(let listing):
                if isLast {
                    return Location(
                        resolution: resolution!, parent: directory, relativePath: childRelative,
                        parentRelativePath: relativePath, visited: visited)
                }
                directory = listing
            }
            visited.insert(directory.stamp.identity)
            relativePath = childRelative
        }
        return nil
    }

    /// FileFinder precedence for one name in one directory.
    private func resolveChild(
        _ name: String, in directory: DirectoryListing, relativePath: String, refresh: Bool,
        visited: Set<FileIdentity>
    ) -> Resolution? {
        var candidate: DirectoryListing?
        if let child = directory.subdirectory(named: name), child.isIdentifier,
            let listing = listing(relativePath: relativePath, child: child, refresh: refresh),
            !listing.isVirtualEnvironment, !visited.contains(listing.stamp.identity)
        {
            if listing.hasInitFile { return .package(listing) }
            candidate = listing
        }
        if let file = directory.moduleFile(named: name) { return .module(fileName: file.fileName) }
        if let candidate {
            var ancestors = visited
            ancestors.insert(candidate.stamp.identity)
            if holdsPythonFile(candidate, relativePath: relativePath, refresh: refresh, ancestors: ancestors) {
                return .namespace(candidate)
            }
        }
        return nil
    }

    /// "Holds a `.py` file at some depth", through non-skipped directories only. Stops at the
    /// first file found, so a real namespace package usually costs one listing.
    private func holdsPythonFile(
        _ directory: DirectoryListing, relativePath: String, refresh: Bool, ancestors: Set<FileIdentity>
    ) -> Bool {
        if directory.hasPythonFile { return true }
        for child in directory.subdirectories {
            let childRelative = relativePath + "/" + child.name
            guard let listing = listing(relativePath: childRelative, child: child, refresh: refresh),
                !listing.isVirtualEnvironment, !ancestors.contains(listing.stamp.identity)
            else { continue }
            var deeper = ancestors
            deeper.insert(listing.stamp.identity)
            if holdsPythonFile(listing, relativePath: childRelative, refresh: refresh, ancestors: deeper) {
                return true
            }
        }
        return false
    }

    /// Reads and decodes a module or `__init__.py`; `nil` if the file vanished since listing.
    /// A file over `limit` (at most ``maxFileBytes``) is a `tooLarge` error, never read.
    func sourceSpec(
        name: String, filePath: String, origin: String, packageDirectory: String?, limit: Int64? = nil
    ) throws -> ModuleSpec? {
        let limit = min(limit ?? maxFileBytes, maxFileBytes)
        switch try sourceReader.read(path: filePath, reportedAs: origin, limit: limit) {
        case .vanished:
            return nil
        case .contents(let bytes):
            let source = try SourceDecoder.decode(bytes, path: origin)
            return ModuleSpec(
                name: name,
                origin: origin,
                isPackage: packageDirectory != nil,
                submoduleSearchLocations: packageDirectory.map { [$0] },
                source: source)
        }
    }
}
