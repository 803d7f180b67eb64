import RFSWire
import Synchronization

/// What importing a module will import, read from a manifest: the order Python would import
/// the snapshot's files in (depth first, pre-order), for `tree/read` to prefetch them.
///
/// Names resolve as FileFinder resolves them over the manifest's roots: a top-level name in the
/// roots in order (regular package `D/__init__.py`, then `NAME.py`; a namespace directory only
/// when no later root has a module or regular package of that name), a submodule within its
/// parent's directories. Importing `a.b.c` first imports `a`, then `a.b`. A package brings its
/// data files: the files under its directory that are not its own modules (`D/NAME.py`,
/// `D/__init__.py`) and not inside a regular subpackage.
///
/// Scans are cached by SHA-256 in ``scans`` (a `Mutex`, held only to get or put one entry), so
/// recomputing a closure reads no file twice. Callers read files on their own thread (the
/// `read` closure is called on it); the manifest's index is immutable.
public final class ImportClosure: Sendable {
    /// Entries visited per closure at most (bounded work on huge trees).
    public static let maxModules = 20_000
    /// Scans kept at most.
    static let maxCachedScans = 50_000

    private let manifest: TreeManifest
    /// Directory `root:dir` (dir `""` is the root) → its direct files (name → entry) and
    /// subdirectory names.
    private let directories: [DirectoryKey: Directory]
    private let files: [(root: Int, path: String, sha: String?)]
    private let scans = Mutex<[String: [ImportScanner.Statement]]>([:])

    struct DirectoryKey: Hashable {
        var root: Int
        var path: String
    }

    struct Directory {
        var files: [String: Int] = [:]
        var subdirectories: Set<String> = []
        /// Entries anywhere below, for data files.
        var allEntries: [Int] = []
    }

    /// A resolved module.
    enum Resolved {
        /// A module file or a package's `__init__.py`, and the package's directories.
        case file(entry: Int, packageDirectories: [DirectoryKey])
        case namespace([DirectoryKey])
    }

    public init(manifest: TreeManifest) {
        self.manifest = manifest
        var directories: [DirectoryKey: Directory] = [:]
        var files: [(Int, String, String?)] = []
        var entry = 0
        for (root, listing) in manifest.roots.enumerated() {
            directories[DirectoryKey(root: root, path: ""), default: Directory()] = directories[DirectoryKey(root: root, path: "")] ?? Directory()
            for file in listing.files {
                files.append((root, file.path, file.sha256))
                let parts = file.path.split(separator: "/")
                var directory = ""
                for (position, part) in parts.enumerated() {
                    let key = DirectoryKey(root: root, path: directory)
                    if position == parts.count - 1 {
                        directories[key, default: Directory()].files[String(part)] = entry
                    } else {
                        directories[key, default: Directory()].subdirectories.insert(String(part))
                        directory = directory.isEmpty ? String(part) : directory + "/" + part
                        directories[DirectoryKey(root: root, path: directory), default: Directory()].allEntries.append(entry)
                    }
                }
                entry += 1
            }
        }
        self.directories = directories
        self.files = files
    }

    /// The module an entry is (`pkg.mod` for `pkg/mod.py`, `pkg` for `pkg/__init__.py`), nil
    /// for data files and anything not importable by that path.
    public func moduleName(ofEntry entry: Int) -> String? {
        guard entry >= 0, entry < files.count, files[entry].path.hasSuffix(".py") else { return nil }
        var parts = files[entry].path.dropLast(3).split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        if parts.last == "__init__" { parts.removeLast() }
        guard !parts.isEmpty, parts.allSatisfy(Self.isIdentifier) else { return nil }
        return parts.joined(separator: ".")
    }

    /// Entries importing `modules` (in order) would need, depth first, pre-order, each once:
    /// module files, package `__init__.py` files and packages' data files. `read` returns an
    /// entry's bytes (verified against its SHA-256) or nil; it is called only for `.py` files
    /// whose scan is not cached. `visit` gets each entry as found; returning false stops.
    public func closure(of modules: [String], read: (Int) -> [UInt8]?, visit: (Int) -> Bool) {
        withoutActuallyEscaping(read) { read in
            withoutActuallyEscaping(visit) { visit in
                var walk = Walk(closure: self, read: read, visit: visit)
                for module in modules where !walk.stopped {
                    walk.importModule(module)
                }
            }
        }
    }

    /// The whole closure as an array (for tests and small trees).
    public func closure(of modules: [String], read: (Int) -> [UInt8]?) -> [Int] {
        var entries: [Int] = []
        closure(of: modules, read: read) { entries.append($0); return true }
        return entries
    }

    private struct Walk {
        let closure: ImportClosure
        let read: (Int) -> [UInt8]?
        let visit: (Int) -> Bool
        var seenModules: Set<String> = []
        var seenEntries: Set<Int> = []
        var resolved: [String: Resolved?] = [:]
        var stopped = false
        var depth = 0

        init(closure: ImportClosure, read: @escaping (Int) -> [UInt8]?, visit: @escaping (Int) -> Bool) {
            self.closure = closure
            self.read = read
            self.visit = visit
        }

        mutating func emit(_ entry: Int) {
            guard !stopped, seenEntries.insert(entry).inserted else { return }
            if !visit(entry) { stopped = true }
        }

        /// `import a.b.c`: `a`, then `a.b`, then `a.b.c`, each with what it imports.
        mutating func importModule(_ name: String) {
            var prefix = ""
            for part in name.split(separator: ".") {
                prefix = prefix.isEmpty ? String(part) : prefix + "." + part
                guard !stopped, resolve(prefix) != nil else { return }
                load(prefix)
            }
        }

        mutating func resolve(_ name: String) -> Resolved? {
            if let known = resolved[name] { return known }
            let result: Resolved?
            if let dot = name.lastIndex(of: ".") {
                let parent = String(name[..<dot])
                let leaf = String(name[name.index(after: dot)...])
                switch resolve(parent) {
                case .file(_, let directories)?: result = closure.find(leaf, in: directories)
                case .namespace(let directories)?: result = closure.find(leaf, in: directories)
                case nil: result = nil
                }
            } else {
                result = closure.find(name, in: (0..<closure.manifest.roots.count).map { DirectoryKey(root: $0, path: "") })
            }
            resolved[name] = .some(result)
            return result
        }

        mutating func load(_ name: String) {
            guard !stopped, seenModules.insert(name).inserted, seenModules.count <= ImportClosure.maxModules, depth < 200,
                let target = resolve(name)
            else { return }
            switch target {
            case .namespace(let directories):
                for directory in directories { emitData(of: directory) }
            case .file(let entry, let packageDirectories):
                emit(entry)
                for directory in packageDirectories { emitData(of: directory) }
                guard let statements = closure.statements(of: entry, read: read) else { return }
                let candidates = ImportScanner.candidates(of: statements, module: name, isPackage: !packageDirectories.isEmpty)
                depth += 1
                for candidate in candidates where !stopped {
                    importModule(candidate)
                }
                depth -= 1
            }
        }

        mutating func emitData(of directory: DirectoryKey) {
            for entry in closure.dataFiles(of: directory) where !stopped { emit(entry) }
        }
    }

    /// FileFinder over `directories` in order.
    private func find(_ name: String, in directories: [DirectoryKey]) -> Resolved? {
        var portions: [DirectoryKey] = []
        for directory in directories {
            guard let listing = self.directories[directory] else { continue }
            let child = DirectoryKey(root: directory.root, path: directory.path.isEmpty ? name : directory.path + "/" + name)
            if listing.subdirectories.contains(name), let initFile = self.directories[child]?.files["__init__.py"] {
                return .file(entry: initFile, packageDirectories: [child])
            }
            if let module = listing.files[name + ".py"] {
                return .file(entry: module, packageDirectories: [])
            }
            if listing.subdirectories.contains(name) { portions.append(child) }
        }
        return portions.isEmpty ? nil : .namespace(portions)
    }

    /// The package directory's files that are neither its modules nor inside a regular
    /// subpackage, in path order.
    private func dataFiles(of directory: DirectoryKey) -> [Int] {
        guard let listing = directories[directory] else { return [] }
        let prefixCount = directory.path.utf8.count + 1
        return listing.allEntries.filter { entry in
            let relative = files[entry].path.utf8.dropFirst(prefixCount)
            let parts = Substring(relative).split(separator: "/")
            guard let last = parts.last else { return false }
            if parts.count == 1 {
                if last == "__init__.py" { return false }
                if last.hasSuffix(".py"), Self.isIdentifier(String(last.dropLast(3))) { return false }
            }
            if last.hasSuffix(".pyc") { return false }
            // Inside a regular subpackage (some directory on the way holds __init__.py)?
            var path = directory.path
            for part in parts.dropLast() {
                path += "/" + part
                if directories[DirectoryKey(root: directory.root, path: path)]?.files["__init__.py"] != nil { return false }
            }
            return true
        }
    }

    /// The scanned imports of a `.py` entry, from the cache or read now.
    private func statements(of entry: Int, read: (Int) -> [UInt8]?) -> [ImportScanner.Statement]? {
        guard let sha = files[entry].sha else { return nil }
        if let cached = scans.withLock({ $0[sha] }) { return cached }
        guard let bytes = read(entry) else { return nil }
        let statements = ImportScanner.scan(bytes)
        scans.withLock { scans in
            if scans.count >= Self.maxCachedScans { scans.removeAll(keepingCapacity: true) }
            scans[sha] = statements
        }
        return statements
    }

    static func isIdentifier(_ text: String) -> Bool {
        guard let first = text.utf8.first, !(first >= UInt8(ascii: "0") && first <= UInt8(ascii: "9")) else { return false }
        return text.utf8.allSatisfy(Tokenizer.isNameByte)
    }
}
