import Foundation

/// A scratch directory tree for one test, removed when the value goes away.
///
/// Tests describe the files they need as `relative path: contents`; symlinks (which the
/// repository never commits) are made here too. `root` is the real path, so tests can compare
/// it with ``ModuleIndex/rootPath`` directly. The tree is world-readable, so that permission tests
/// can read it as another user.
public final class TemporaryTree: Sendable {
    /// Real path of the scratch directory (the tree lives in `base/root`; `base` also holds
    /// `outside/` for files that must never be served).
    public let root: String
    /// Real path of a sibling of `root`, for symlink targets outside the root.
    public let outside: String
    /// The scratch directory itself (holds `root/` and `outside/`), for state files beside the tree.
    public let base: String

    public init(_ files: [String: String] = [:]) throws {
        let template = FileManager.default.temporaryDirectory.appendingPathComponent("rfs-tree-XXXXXX").path
        var buffer = Array(template.utf8CString)
        guard mkdtemp(&buffer) != nil else { throw CocoaError(.fileWriteUnknown) }
        let created = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        // mkdtemp makes it 0700; permission tests reach it as nobody (see `Unprivileged`), who
        // must be able to traverse it so that only a test's own `chmod` denies access.
        guard chmod(created, 0o755) == 0 else { throw CocoaError(.fileWriteNoPermission) }
        base = URL(fileURLWithPath: created).resolvingSymlinksInPath().path
        root = base + "/root"
        outside = base + "/outside"
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: outside, withIntermediateDirectories: true)
        for (path, text) in files { try write(path, text) }
    }

    deinit {
        // Make everything removable again if a test locked a directory.
        if let paths = FileManager.default.enumerator(atPath: base) {
            for case let path as String in paths { chmod(base + "/" + path, 0o755) }
        }
        try? FileManager.default.removeItem(atPath: base)
    }

    /// Writes UTF-8 `text` at `path` under the root, creating directories on the way.
    public func write(_ path: String, _ text: String) throws {
        try write(path, bytes: Array(text.utf8))
    }

    /// Writes raw bytes at `path` under the root, creating directories on the way.
    public func write(_ path: String, bytes: [UInt8]) throws {
        let full = root + "/" + path
        try FileManager.default.createDirectory(
            atPath: (full as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        guard FileManager.default.createFile(atPath: full, contents: Data(bytes)) else {
            throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: full])
        }
    }

    /// Writes a file outside the root (a symlink target that must not be served).
    public func writeOutside(_ path: String, _ text: String) throws {
        let full = outside + "/" + path
        try FileManager.default.createDirectory(
            atPath: (full as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        _ = FileManager.default.createFile(atPath: full, contents: Data(text.utf8))
    }

    public func makeDirectory(_ path: String) throws {
        try FileManager.default.createDirectory(atPath: root + "/" + path, withIntermediateDirectories: true)
    }

    /// Creates the symlink `path` (under the root) whose content is `destination`, verbatim.
    public func symlink(_ path: String, to destination: String) throws {
        try FileManager.default.createSymbolicLink(atPath: root + "/" + path, withDestinationPath: destination)
    }

    public func remove(_ path: String) throws {
        try FileManager.default.removeItem(atPath: root + "/" + path)
    }

    /// Absolute path of `path` under the root.
    public func path(_ relative: String) -> String { root + "/" + relative }
}
