import Foundation
import Synchronization
import RFSTestSupport
import Testing

/// Runs the real `rfs` binary (`rfs list`) as a child process.
///
/// The test target depends only on RFSModuleIndex, so the binary is found by path: `$RFS_BINARY`
/// if set, else `rfs` next to the running test bundle (SwiftPM puts every product of a build in
/// one directory, whatever `--build-path` or configuration), else `.build/debug/rfs` under the
/// package root derived from `#filePath`. `swift build --build-tests` and `swift test` build it.
@Suite("rfs list (the binary)")
struct ListCommandTests {
    struct Outcome {
        var status: Int32
        var stdout: String
        var stderr: String
    }

    static let binary: String? = {
        var candidates: [String] = []
        if let override = ProcessInfo.processInfo.environment["RFS_BINARY"] { candidates.append(override) }
        let running = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        var directory = running.deletingLastPathComponent()
        // Inside an .xctest bundle directory (Darwin layout), step out of it.
        while directory.path.contains(".xctest") { directory.deleteLastPathComponent() }
        candidates.append(directory.appendingPathComponent("rfs").path)
        candidates.append(Fixtures.packageRoot + "/.build/debug/rfs")
        return candidates.first { FileManager.default.isExecutableFile(atPath: $0) }
    }()

    /// The binary as nobody can run it (see ``Unprivileged``): `binary` itself when every folder
    /// above it is world-searchable, else a copy (with its `*.resources` bundles) in a
    /// world-readable temporary folder, removed when the test process exits.
    static let binaryForNobody: String? = {
        guard let binary else { return nil }
        if !Unprivileged.isRoot || Unprivileged.isRunnableByOthers(binary) { return binary }
        guard let scratch = try? TemporaryTree() else { return nil }
        let source = URL(fileURLWithPath: binary).deletingLastPathComponent()
        let siblings = (try? FileManager.default.contentsOfDirectory(atPath: source.path)) ?? []
        for name in siblings where name == "rfs" || name.hasSuffix(".resources") {
            guard (try? FileManager.default.copyItem(atPath: source.path + "/" + name, toPath: scratch.outside + "/" + name)) != nil
            else { return nil }
        }
        keptAlive.withLock { $0.append(scratch) }
        return scratch.outside + "/rfs"
    }()

    /// Keeps the copy above alive until the process exits (static values are never deinitialised,
    /// so the copy is removed by the `atexit` handler).
    private static let keptAlive: Mutex<[TemporaryTree]> = {
        atexit { ListCommandTests.keptAlive.withLock { $0.removeAll() } }
        return Mutex([])
    }()

    /// Runs the binary with `arguments`; with `asNobody`, as nobody (see ``Unprivileged``).
    func run(_ arguments: [String], asNobody: Bool = false) throws -> Outcome {
        var (executable, fullArguments) = (
            try #require(Self.binary, "rfs binary not found; run `swift build --build-tests` first"), arguments
        )
        if asNobody {
            let binary = try #require(Self.binaryForNobody, "no copy of the rfs binary that nobody can run")
            (executable, fullArguments) = try Unprivileged.command(binary, arguments)
        }
        let scratch = try TemporaryTree()
        let outPath = scratch.outside + "/stdout"
        let errPath = scratch.outside + "/stderr"
        _ = FileManager.default.createFile(atPath: outPath, contents: nil)
        _ = FileManager.default.createFile(atPath: errPath, contents: nil)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = fullArguments
        // Files, not pipes: nothing can block on a full pipe, whatever the child prints.
        process.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: outPath))
        process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: errPath))
        process.standardInput = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        return Outcome(
            status: process.terminationStatus,
            stdout: try String(contentsOfFile: outPath, encoding: .utf8),
            stderr: try String(contentsOfFile: errPath, encoding: .utf8))
    }

    struct JSONEntry: Decodable, Equatable {
        var name: String
        var kind: String
        var path: String
    }

    @Test("--json prints the fixture workspace's modules, sorted, keys in order")
    func jsonOnFixtures() throws {
        let outcome = try run(["list", "--json", Fixtures.workspace])
        #expect(outcome.status == 0)
        #expect(outcome.stderr == "")
        let entries = try JSONDecoder().decode([JSONEntry].self, from: Data(outcome.stdout.utf8))
        #expect(
            entries
                == FixtureWorkspaceTests.expected.map { JSONEntry(name: $0.name, kind: $0.kind.rawValue, path: $0.path) })
        #expect(entries.map(\.name) == entries.map(\.name).sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) })
        #expect(outcome.stdout.contains(#"{"name":"pkg_relative","kind":"package","path":"pkg_relative/__init__.py"}"#))
    }

    @Test("--top-level and --exclude narrow the listing")
    func topLevelAndExclude() throws {
        let outcome = try run([
            "list", Fixtures.workspace, "--json", "--top-level", "--exclude", "pkg_*", "--exclude", "[a-r]*",
        ])
        #expect(outcome.status == 0)
        let entries = try JSONDecoder().decode([JSONEntry].self, from: Data(outcome.stdout.utf8))
        #expect(entries.map(\.name) == ["shadowed", "shared_name", "toplevel_mod"])
    }

    @Test("the human form is a table and a summary naming the real root")
    func table() throws {
        let outcome = try run(["list", Fixtures.workspace])
        #expect(outcome.status == 0)
        let lines = outcome.stdout.split(separator: "\n")
        #expect(lines.first?.hasPrefix("NAME ") == true)
        #expect(lines.contains { $0.hasPrefix("pkg_relative.sub.deeper.bottom  module     pkg_relative/sub/deeper/bottom.py") })
        let root = URL(fileURLWithPath: Fixtures.workspace).resolvingSymlinksInPath().path
        #expect(lines.last == "24 modules (9 packages, 2 namespaces, 13 modules) in \(root)")
    }

    @Test("a missing folder: exit 1, one stderr line naming it, nothing on stdout")
    func missingFolder() throws {
        let tree = try TemporaryTree()
        let outcome = try run(["list", "--json", tree.path("missing")])
        #expect(outcome.status == 1)
        #expect(outcome.stdout == "")
        #expect(outcome.stderr == "rfs list: \(tree.path("missing")): no such directory\n")
    }

    @Test("a file: exit 1, one stderr line naming it, nothing on stdout")
    func fileInsteadOfFolder() throws {
        let tree = try TemporaryTree(["a.py": ""])
        let outcome = try run(["list", tree.path("a.py")])
        #expect(outcome.status == 1)
        #expect(outcome.stdout == "")
        #expect(outcome.stderr == "rfs list: \(tree.path("a.py")): not a directory\n")
    }

    @Test("an unreadable folder: exit 1, one stderr line naming it, nothing on stdout")
    func unreadableFolder() throws {
        let tree = try TemporaryTree(["ok.py": "", "locked/a.py": ""])
        #expect(chmod(tree.path("locked"), 0) == 0)
        // As nobody (when root), the root is readable: a denial below comes from the lock.
        let readable = try run(["list", "--json", tree.root], asNobody: true)
        #expect(readable.status == 0)
        #expect(readable.stdout.contains(#""name":"ok""#))
        let outcome = try run(["list", tree.path("locked")], asNobody: true)
        #expect(outcome.status == 1)
        #expect(outcome.stdout == "")
        #expect(outcome.stderr == "rfs list: \(tree.path("locked")): permission denied\n")
    }

    @Test("an unreadable subfolder: listed without it, exit 0, one warning naming it")
    func unreadableSubfolder() throws {
        let tree = try TemporaryTree(["ok.py": "", "locked/__init__.py": "", "locked/m.py": ""])
        #expect(chmod(tree.path("locked"), 0) == 0)
        let outcome = try run(["list", "--json", tree.root], asNobody: true)
        #expect(outcome.status == 0)
        #expect(outcome.stdout == "[\n" + #"{"name":"ok","kind":"module","path":"ok.py"}"# + "\n]\n")
        let warnings = outcome.stderr.split(separator: "\n")
        #expect(warnings.count == 1)
        #expect(warnings.first?.contains("cannot read directory") == true)
        #expect(warnings.first?.contains(tree.path("locked")) == true)
        #expect(warnings.first?.contains("permission denied") == true)
    }

    @Test("--help describes the command and its options")
    func help() throws {
        let outcome = try run(["list", "--help"])
        #expect(outcome.status == 0)
        for word in ["--json", "--top-level", "--exclude", "sys.path", "namespace"] {
            #expect(outcome.stdout.contains(word), "\(word)")
        }
    }
}
