/// `treeFiles`: the files a manifest lists (DESIGN.md §7), found by the same rules, reader,
/// excludes and symlink confinement as imports (DESIGN.md §4).
extension ModuleIndex {
    /// Which files of a folder a manifest lists.
    public enum TreeScope: Sendable {
        /// A `--source` folder: top-level `NAME.py`, everything inside regular and namespace
        /// packages, top-level `*.dist-info` / `*.egg-info` directories.
        case source
        /// The script's folder (often a home directory): top-level `NAME.py` and regular packages
        /// only.
        case script
    }

    /// One listed file.
    public struct TreeFile: Sendable, Equatable {
        /// Relative to the root, `/`-separated.
        public let path: String
        /// What to open: the real directory's path joined with the name, or a confined symlink's
        /// resolved target. Open it with ``ConfinedFile/open(_:root:reportedAs:)``.
        public let location: String
    }

    /// The files found, and whether the walk stopped at `maxFiles`.
    public struct TreeFiles: Sendable {
        /// Sorted by path in code point order.
        public var files: [TreeFile]
        /// More than `maxFiles` files were found; `files` holds the first `maxFiles + 1` seen.
        public var isTruncated: Bool
    }

    /// Every file a manifest of this folder lists, sorted by path (code point order). Walks the
    /// tree afresh; reads nothing but directories. Files of every kind are returned (`.pyc`
    /// included); the caller decides what to hash. Stops once more than `maxFiles` are found, so
    /// memory stays bounded on a huge folder.
    ///
    /// Synchronous file-system work: callers run it off event loops and the cooperative pool.
    ///
    /// - Throws: ``ModuleIndexError`` when the root cannot be read.
    public func treeFiles(scope: TreeScope, maxFiles: Int = .max) throws -> TreeFiles {
        let root: DirectoryListing
        do {
            root = try reader.read(path: rootPath, relativePath: "", verify: true, keepingFiles: true)
        } catch {
            switch error {
            case .system(let code): throw ModuleIndexError.forRoot(errno: code, path: rootPath)
            case .outsideRoot(let actual):
                throw ModuleIndexError(kind: .outsideRoot, path: rootPath, detail: "now resolves to \(actual)")
            }
        }
        var walk = TreeWalk(index: self, maxFiles: maxFiles)
        walk.visitRoot(root, scope: scope)
        walk.files.sort { CodePointOrder.precedes($0.path, $1.path) }
        return TreeFiles(files: walk.files, isTruncated: walk.isTruncated)
    }
}

extension ModuleIndex {
    /// A compiled extension module's file (`.so`, `.pyd`, `.dylib`, `.dll`): listed in a
    /// manifest (so the worker can say why an import failed) but never served — rfs serves only
    /// Python source.
    public static func isNativeExtension(_ name: String) -> Bool {
        name.hasSuffix(".so") || name.hasSuffix(".pyd") || name.hasSuffix(".dylib") || name.hasSuffix(".dll")
    }
}

/// One walk for ``ModuleIndex/treeFiles(scope:maxFiles:)``.
private struct TreeWalk {
    let index: ModuleIndex
    let maxFiles: Int
    var files: [ModuleIndex.TreeFile] = []
    var isTruncated = false

    init(index: ModuleIndex, maxFiles: Int) {
        self.index = index
        self.maxFiles = maxFiles
    }

    mutating func visitRoot(_ root: DirectoryListing, scope: ModuleIndex.TreeScope) {
        let ancestors = [root.stamp.identity]
        for module in root.moduleFiles {
            add(path: module.fileName, location: FileSystem.join(root.openedPath, module.fileName))
        }
        // Top-level native extensions are listed too (never served), so importing one fails
        // naming the file rather than with a bare "No module named".
        for file in root.files where ModuleIndex.isNativeExtension(file.name) {
            guard let dot = file.name.firstIndex(of: "."), PythonIdentifier.isValid(String(file.name[..<dot])) else { continue }
            add(path: file.name, location: file.path)
        }
        for child in root.subdirectories where child.isIdentifier {
            guard !isTruncated, let listing = read(child, relativePath: child.name, ancestors: ancestors) else { continue }
            // FileFinder's precedence: a regular package, then NAME.py, then a namespace package.
            if listing.hasInitFile {
                addAll(listing, relativePath: child.name, ancestors: ancestors)
            } else if scope == .source, root.moduleFile(named: child.name) == nil,
                holdsPythonFile(listing, relativePath: child.name, ancestors: ancestors)
            {
                addAll(listing, relativePath: child.name, ancestors: ancestors)
            }
        }
        if scope == .source {
            for child in root.metadataDirectories {
                guard !isTruncated, let listing = read(child, relativePath: child.name, ancestors: ancestors) else { continue }
                addAll(listing, relativePath: child.name, ancestors: ancestors)
            }
        }
    }

    /// Every file of `directory` and, recursively, of its subdirectories (any name: data folders).
    private mutating func addAll(_ directory: DirectoryListing, relativePath: String, ancestors: [FileIdentity]) {
        for file in directory.files {
            add(path: relativePath + "/" + file.name, location: file.path)
        }
        var deeper = ancestors
        deeper.append(directory.stamp.identity)
        for child in directory.subdirectories {
            let childRelative = relativePath + "/" + child.name
            guard !isTruncated, let listing = read(child, relativePath: childRelative, ancestors: deeper) else { continue }
            addAll(listing, relativePath: childRelative, ancestors: deeper)
        }
    }

    private mutating func add(path: String, location: String) {
        guard !isTruncated else { return }
        files.append(ModuleIndex.TreeFile(path: path, location: location))
        if files.count > maxFiles { isTruncated = true }
    }

    /// The full listing of a subdirectory; nil when unreadable, a virtual environment, or a
    /// symlink cycle back to an ancestor (the index's own rules, warnings included).
    private func read(_ child: ChildDirectory, relativePath: String, ancestors: [FileIdentity]) -> DirectoryListing? {
        guard let listing = index.readListing(relativePath: relativePath, child: child, store: false, keepingFiles: true),
            !listing.isVirtualEnvironment, !ancestors.contains(listing.stamp.identity)
        else { return nil }
        return listing
    }

    /// A directory without `__init__.py` is a namespace package only when some `.py` file lies
    /// somewhere below it (DESIGN.md §4).
    private func holdsPythonFile(_ directory: DirectoryListing, relativePath: String, ancestors: [FileIdentity]) -> Bool {
        if directory.hasPythonFile { return true }
        var deeper = ancestors
        deeper.append(directory.stamp.identity)
        for child in directory.subdirectories {
            let childRelative = relativePath + "/" + child.name
            guard let listing = read(child, relativePath: childRelative, ancestors: deeper) else { continue }
            if holdsPythonFile(listing, relativePath: childRelative, ancestors: deeper) { return true }
        }
        return false
    }
}
