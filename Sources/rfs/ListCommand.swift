import ArgumentParser
import RFSModuleIndex

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// `rfs list DIR`: what a source folder would serve, without connecting anywhere.
///
/// Errors (missing folder, a file, an unreadable folder) print exactly one line on stderr naming
/// the path and the reason, print nothing on stdout, and exit 1 — so scripts can rely on stdout
/// being either a complete listing or empty.
struct ListCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "list",
        abstract: "Show the Python modules a source folder would serve.",
        discussion: """
            DIR is treated like a sys.path entry: its children are the top-level modules. \
            Served: NAME.py modules, packages (directories with __init__.py) and namespace \
            packages (directories holding a .py file at some depth), named by Python identifiers. \
            Skipped: dot-entries, __pycache__, node_modules, *.egg-info, *.dist-info, virtual \
            environments (directories holding pyvenv.cfg), symlinks leaving DIR, and --exclude \
            patterns.

            --json prints a JSON array sorted by name, one {"name","kind","path"} object per \
            line; kind is module, package or namespace, and path is relative to DIR.
            """
    )

    @Argument(help: "The source folder, as you would pass it to --source.")
    var directory: String

    @Flag(help: "Print a JSON array of {\"name\", \"kind\", \"path\"} objects sorted by name.")
    var json = false

    @Flag(name: .customLong("top-level"), help: "Only list top-level modules (the folder's children).")
    var topLevel = false

    @Option(
        name: .customLong("exclude"),
        help: ArgumentHelp(
            "Skip entries matching this fnmatch glob (repeatable).",
            discussion: "Matched against the path relative to DIR (with /) and against the entry's name.",
            valueName: "glob"))
    var excludes: [String] = []

    func run() async throws {
        let index: ModuleIndex
        let entries: [ModuleEntry]
        do {
            index = try ModuleIndex(root: directory, excludes: excludes)
            entries = try index.entries(topLevelOnly: topLevel)
        } catch let error as ModuleIndexError {
            writeAll(Array("rfs list: \(error.description)\n".utf8), to: STDERR_FILENO)
            throw ExitCode.failure
        }
        if json {
            ModuleListRendering.writeJSON(entries) { writeAll($0, to: STDOUT_FILENO) }
        } else {
            writeAll(Array(ModuleListRendering.table(entries, root: index.rootPath).utf8), to: STDOUT_FILENO)
        }
    }
}

/// Writes all of `bytes` with `write(2)` (no Foundation, no buffering layer of its own).
private func writeAll(_ bytes: [UInt8], to descriptor: Int32) {
    bytes.withUnsafeBufferPointer { writeAll($0, to: descriptor) }
}

private func writeAll(_ buffer: UnsafeBufferPointer<UInt8>, to descriptor: Int32) {
    guard let base = buffer.baseAddress else { return }
    var offset = 0
    while offset < buffer.count {
        let written = write(descriptor, base + offset, buffer.count - offset)
        if written < 0 {
            if errno == EINTR { continue }
            return
        }
        offset += written
    }
}
