#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Logging

/// Reads one directory with `open` + `fdopendir` + `readdir`, using `d_type` so that ordinary
/// entries cost no extra system call; only symlinks and `DT_UNKNOWN` entries are `stat`ed.
///
/// This is the hot loop of `rfs list`: it avoids Foundation and builds as few strings as it can.
struct DirectoryReader: Sendable {
    let confinement: Confinement
    let excludes: ExcludePatterns
    let logger: Logger
    /// Warns (once per path) about symlinks that resolve outside the root.
    let warnings: WarnOnceLog

    enum Failure: Error {
        /// `open`/`opendir` failed with this `errno`.
        case system(Int32)
        /// The directory's real path is outside the root (swapped for a symlink after resolving).
        case outsideRoot(String)
    }

    /// Reads the directory at real path `path`, whose path relative to the root is `relativePath`
    /// (empty for the root).
    ///
    /// Confinement: the directory is opened with `O_NOFOLLOW`, so it cannot have become a symlink
    /// since its parent was listed; the root and directories reached through a (confined) symlink
    /// are also checked by the real path of the open descriptor (`verify`). What a listing yields
    /// is names only — every byte served is checked again when its file is opened
    /// (``SourceFileReader``).
    ///
    /// With `keepingFiles` (the manifest's walk, ``ModuleIndex/treeFiles(scope:maxFiles:)``) every
    /// regular file that the skip rules and excludes let through is also kept in
    /// ``DirectoryListing/files``, and `*.dist-info` / `*.egg-info` directories, which the skip
    /// rules hide from imports, are kept in ``DirectoryListing/metadataDirectories``.
    func read(path: String, relativePath: String, verify: Bool, keepingFiles: Bool = false) throws(Failure) -> DirectoryListing {
        let startedAt = DirectoryStamp.now()
        let descriptor = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW)
        guard descriptor >= 0 else { throw .system(errno) }
        guard let directory = fdopendir(descriptor) else {
            let code = errno
            close(descriptor)
            throw .system(code)
        }
        defer { closedir(directory) }

        var info = stat()
        guard fstat(descriptor, &info) == 0 else { throw .system(errno) }
        if verify {
            // Fail closed: a directory whose real path cannot be told is treated as outside.
            let actual = FileSystem.realPath(ofDescriptor: descriptor, openedPath: path) ?? "an unknown path"
            guard confinement.contains(actual) else { throw .outsideRoot(actual) }
        }

        var hasInitFile = false
        var isVirtualEnvironment = false
        var hasPythonFile = false
        var moduleFiles: [ModuleFile] = []
        var subdirectories: [ChildDirectory] = []
        var files: [ListedFile] = []
        var metadataDirectories: [ChildDirectory] = []

        while let entry = readdir(directory) {
            let type = Int(entry.pointee.d_type)
            let isDirectoryEntry = type == Int(DT_DIR)
            let isRegularEntry = type == Int(DT_REG)
            let name: String? = withUnsafeBytes(of: &entry.pointee.d_name) { raw in
                let bytes = raw.baseAddress!.assumingMemoryBound(to: UInt8.self)
                let length = strlen(raw.baseAddress!.assumingMemoryBound(to: CChar.self))
                // Fast path: a regular file matters only as `*.py` or `pyvenv.cfg`; most of a
                // big tree's other files (data, docs, bytecode) are dropped without a String.
                if !keepingFiles, isRegularEntry, !Self.isPythonFileName(bytes, length), !Self.isPyvenvConfig(bytes, length) {
                    return nil
                }
                // Fast path: a regular `*.py` file with no --exclude patterns, by far the most
                // common entry, is classified from its bytes (the same rules as below).
                if !keepingFiles, isRegularEntry, excludes.isEmpty, Self.isPythonFileName(bytes, length) {
                    switch Self.classifyPythonFile(UnsafeBufferPointer(start: bytes, count: length)) {
                    case .ignored: break
                    case .initFile:
                        hasPythonFile = true
                        hasInitFile = true
                    case .otherPythonFile:
                        hasPythonFile = true
                    case .module(let file):
                        hasPythonFile = true
                        moduleFiles.append(file)
                    }
                    return nil
                }
                // Names that are not UTF-8 can never be identifiers, so they are dropped too.
                let buffer = UnsafeBufferPointer(start: bytes, count: length)
                if !buffer.contains(where: { $0 >= 0x80 }) { return String(decoding: buffer, as: UTF8.self) }
                return String(validating: buffer, as: UTF8.self)
            }
            guard let name else { continue }
            let isMetadata = keepingFiles && SkipRules.isMetadataDirectoryName(name)
            guard isMetadata || !SkipRules.isSkipped(name: name) else { continue }
            if name == "pyvenv.cfg" {
                isVirtualEnvironment = true
                continue
            }
            if !excludes.isEmpty {
                let childRelative = relativePath.isEmpty ? name : relativePath + "/" + name
                if excludes.matches(relativePath: childRelative, name: name) {
                    logger.trace("excluded", metadata: ["path": "\(childRelative)"])
                    continue
                }
            }

            var isDirectory = isDirectoryEntry
            var isRegular = isRegularEntry
            var childPath: String?
            var isSymlink = false
            if !isDirectory && !isRegular {
                let childRelative = relativePath.isEmpty ? name : relativePath + "/" + name
                guard
                    let resolved = classify(
                        path: FileSystem.join(path, name), relativePath: childRelative, type: UInt8(type))
                else { continue }
                childPath = resolved.path
                isSymlink = resolved.isSymlink
                isDirectory = resolved.isDirectory
                isRegular = !resolved.isDirectory
            }

            if isMetadata {
                // Listed only as a directory of distribution metadata, never as an import.
                if isDirectory {
                    metadataDirectories.append(
                        ChildDirectory(
                            key: NameKey(name), path: childPath ?? FileSystem.join(path, name), isIdentifier: false,
                            isSymlink: isSymlink))
                }
                continue
            }
            if keepingFiles, isRegular {
                files.append(ListedFile(key: NameKey(name), path: childPath ?? FileSystem.join(path, name), isSymlink: isSymlink))
            }
            if isDirectory {
                subdirectories.append(
                    ChildDirectory(
                        key: NameKey(name), path: childPath ?? FileSystem.join(path, name),
                        isIdentifier: PythonIdentifier.isValid(name), isSymlink: isSymlink))
            } else if isRegular, SkipRules.hasSuffix(name.utf8, ".py") {
                hasPythonFile = true
                // ".py" is ASCII, so dropping three bytes stays on a scalar boundary.
                let stem = Substring(name.utf8.dropLast(3))
                if stem.utf8.elementsEqual("__init__".utf8) {
                    hasInitFile = true
                } else if PythonIdentifier.isValid(stem) {
                    moduleFiles.append(ModuleFile(key: NameKey(String(stem)), fileName: name))
                }
            }
        }

        let stamp = DirectoryStamp(info)
        return DirectoryListing(
            openedPath: path,
            stamp: stamp,
            isSettled: stamp.isSettled(asOf: startedAt),
            hasInitFile: hasInitFile,
            isVirtualEnvironment: isVirtualEnvironment,
            hasPythonFile: hasPythonFile,
            moduleFiles: moduleFiles,
            subdirectories: subdirectories,
            files: files,
            metadataDirectories: metadataDirectories
        )
    }

    private enum PythonFile {
        /// Skipped (a dot-file) or not UTF-8: invisible.
        case ignored
        case initFile
        /// A `.py` file whose stem is not an identifier: not served, but it still makes its
        /// directory hold a `.py` file (for namespace packages).
        case otherPythonFile
        case module(ModuleFile)
    }

    /// What the general path of ``read(path:relativePath:verify:)`` decides for the regular file
    /// `name` (which ends in `.py` and has a non-empty stem) when there are no exclude patterns:
    /// skipped if it starts with `.` (no other skip rule can match a `*.py` name), dropped if not
    /// UTF-8, `__init__.py`, a module if the stem is an identifier, else just a `.py` file.
    private static func classifyPythonFile(_ name: UnsafeBufferPointer<UInt8>) -> PythonFile {
        if name[0] == UInt8(ascii: ".") { return .ignored }
        let stem = UnsafeBufferPointer(rebasing: name[..<(name.count - 3)])
        if stem.count == 8, memcmp(stem.baseAddress!, "__init__", 8) == 0 { return .initFile }
        if !name.contains(where: { $0 >= 0x80 }) {
            guard PythonIdentifier.isValidASCII(stem) else { return .otherPythonFile }
            let stemString = String(decoding: stem, as: UTF8.self)
            return .module(ModuleFile(key: NameKey(stemString), fileName: String(decoding: name, as: UTF8.self)))
        }
        guard let fileName = String(validating: name, as: UTF8.self) else { return .ignored }
        let stemString = String(decoding: stem, as: UTF8.self)
        guard PythonIdentifier.isValid(stemString) else { return .otherPythonFile }
        return .module(ModuleFile(key: NameKey(stemString), fileName: fileName))
    }

    private static func isPythonFileName(_ bytes: UnsafePointer<UInt8>, _ length: Int) -> Bool {
        length > 3 && bytes[length - 3] == UInt8(ascii: ".") && bytes[length - 2] == UInt8(ascii: "p")
            && bytes[length - 1] == UInt8(ascii: "y")
    }

    private static func isPyvenvConfig(_ bytes: UnsafePointer<UInt8>, _ length: Int) -> Bool {
        length == 10 && memcmp(bytes, "pyvenv.cfg", 10) == 0
    }

    /// Resolves an entry whose `d_type` did not say "directory" or "regular file": symlinks are
    /// followed only when their real path stays inside the root; sockets, FIFOs and devices are
    /// dropped (opening a FIFO named `x.py` would block). Returns the path to use and its type.
    private func classify(path: String, relativePath: String, type: UInt8)
        -> (path: String, isDirectory: Bool, isSymlink: Bool)?
    {
        var isLink = Int(type) == Int(DT_LNK)
        if Int(type) == Int(DT_UNKNOWN) {
            guard let info = FileSystem.linkStatus(path) else { return nil }
            if FileSystem.isDirectory(info) { return (path, true, false) }
            if FileSystem.isRegularFile(info) { return (path, false, false) }
            isLink = FileSystem.isSymbolicLink(info)
        }
        guard isLink else { return nil }
        guard let target = FileSystem.realPath(path) else {
            logger.debug("dangling symlink skipped", metadata: ["path": "\(relativePath)"])
            return nil
        }
        guard confinement.contains(target) else {
            warnings.warn(
                key: "escape:" + relativePath, "symlink points outside the source folder; not served",
                metadata: ["path": "\(relativePath)", "target": "\(target)", "root": "\(confinement.root)"])
            return nil
        }
        guard let info = FileSystem.status(target) else { return nil }
        if FileSystem.isDirectory(info) { return (target, true, true) }
        if FileSystem.isRegularFile(info) { return (target, false, true) }
        return nil
    }
}
