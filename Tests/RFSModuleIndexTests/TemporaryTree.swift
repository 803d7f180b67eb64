import Foundation

/// A scratch directory tree for one test, removed when the value goes away.
///
/// Tests describe the files they need as `relative path: contents`; symlinks (which the
/// repository never commits) are made here too. `root` is the real path, so tests can compare
/// it with ``ModuleIndex/rootPath`` directly.
final class TemporaryTree: Sendable {
    /// Real path of the scratch directory (the tree lives in `base/root`; `base` also holds
    /// `outside/` for files that must never be served).
    let root: String
    /// Real path of a sibling of `root`, for symlink targets outside the root.
    let outside: String
    private let base: String

    init(_ files: [String: String] = [:]) throws {
        let template = FileManager.default.temporaryDirectory.appendingPathComponent("rfs-index-XXXXXX").path
        var buffer = Array(template.utf8CString)
        guard mkdtemp(&buffer) != nil else { throw CocoaError(.fileWriteUnknown) }
        let created = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
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
    func write(_ path: String, _ text: String) throws {
        try write(path, bytes: Array(text.utf8))
    }

    /// Writes raw bytes at `path` under the root, creating directories on the way.
    func write(_ path: String, bytes: [UInt8]) throws {
        let full = root + "/" + path
        try FileManager.default.createDirectory(
            atPath: (full as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        guard FileManager.default.createFile(atPath: full, contents: Data(bytes)) else {
            throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: full])
        }
    }

    /// Writes a file outside the root (a symlink target that must not be served).
    func writeOutside(_ path: String, _ text: String) throws {
        let full = outside + "/" + path
        try FileManager.default.createDirectory(
            atPath: (full as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        _ = FileManager.default.createFile(atPath: full, contents: Data(text.utf8))
    }

    func makeDirectory(_ path: String) throws {
        try FileManager.default.createDirectory(atPath: root + "/" + path, withIntermediateDirectories: true)
    }

    /// Creates the symlink `path` (under the root) whose content is `destination`, verbatim.
    func symlink(_ path: String, to destination: String) throws {
        try FileManager.default.createSymbolicLink(atPath: root + "/" + path, withDestinationPath: destination)
    }

    func remove(_ path: String) throws {
        try FileManager.default.removeItem(atPath: root + "/" + path)
    }

    /// Absolute path of `path` under the root.
    func path(_ relative: String) -> String { root + "/" + relative }
}

/// The repository's `fixtures/` folder, found from this source file's location
/// (`Tests/RFSModuleIndexTests/<file>` → three levels up is the package root).
enum Fixtures {
    static let packageRoot: String = {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url.deleteLastPathComponent() }
        return url.path
    }()

    static let workspace = packageRoot + "/fixtures/workspace"
    static let workspaceB = packageRoot + "/fixtures/workspace_b"
}
