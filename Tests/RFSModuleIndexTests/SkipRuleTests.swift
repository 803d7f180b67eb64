import Foundation
import RFSTestSupport
import Testing

@testable import RFSModuleIndex

/// DESIGN.md §4 "Skipped": these entries are invisible — never served, and they do not turn their
/// parent into a namespace package either.
@Suite("Skip rules")
struct SkipRuleTests {
    @Test(
        "skipped entries are not served",
        arguments: [
            ".hidden.py", ".private/__init__.py", "__pycache__/__init__.py", "node_modules/__init__.py",
            "thing.egg-info/__init__.py", "thing-1.0.dist-info/__init__.py",
        ])
    func skippedAtTopLevel(path: String) throws {
        let tree = try TemporaryTree([path: "SECRET = 1\n"])
        let index = try ModuleIndex(root: tree.root)
        #expect(try index.entries().isEmpty)
    }

    @Test("node_modules and __pycache__ are skipped even though they are identifiers")
    func identifierNamedSkips() throws {
        let tree = try TemporaryTree(["node_modules/x.py": "", "__pycache__/y.py": "", "pkg/__init__.py": "", "pkg/node_modules.py": ""])
        let index = try ModuleIndex(root: tree.root)
        #expect(try index.lookup("node_modules") == nil)
        #expect(try index.lookup("node_modules.x") == nil)
        #expect(try index.lookup("__pycache__") == nil)
        // The rule is about the entry's name: a module file node_modules.py is not skipped.
        #expect(try index.lookup("pkg.node_modules") != nil)
    }

    @Test("a directory holding pyvenv.cfg is skipped, package or not")
    func virtualEnvironment() throws {
        let tree = try TemporaryTree([
            "venv/pyvenv.cfg": "home = /usr/bin\n", "venv/lib/site.py": "",
            "envpkg/pyvenv.cfg": "", "envpkg/__init__.py": "",
            "pkg/__init__.py": "", "pkg/env/pyvenv.cfg": "", "pkg/env/__init__.py": "",
        ])
        let index = try ModuleIndex(root: tree.root)
        #expect(try index.entries().map(\.name) == ["pkg"])
        #expect(try index.lookup("venv") == nil)
        #expect(try index.lookup("venv.lib.site") == nil)
        #expect(try index.lookup("envpkg") == nil)
        #expect(try index.lookup("pkg.env") == nil)
    }

    @Test(".py files inside skipped directories do not make a namespace package")
    func skippedContentsDoNotMakeANamespace() throws {
        let tree = try TemporaryTree([
            "holder/.git/hook.py": "", "holder/__pycache__/x.py": "", "holder/node_modules/y.py": "",
            "holder/z.egg-info/z.py": "", "holder/w.dist-info/w.py": "", "holder/env/pyvenv.cfg": "",
            "holder/env/site.py": "", "holder/.hidden.py": "", "holder/readme.md": "",
        ])
        let index = try ModuleIndex(root: tree.root)
        #expect(try index.entries().isEmpty)
        #expect(try index.lookup("holder") == nil)
    }

    @Test("*.py files are classified alike with and without --exclude patterns (which take the general path)")
    func pythonFileFastPathAgreesWithGeneralPath() throws {
        let tree = try TemporaryTree([
            "mod.py": "", "my-mod.py": "", "1abc.py": "", ".hidden.py": "", "café.py": "", "a\u{0301}.py": "",
            "x·y.py": "", "__init__.py": "", "___init__.py": "", "__init__x.py": "", "pyvenv.cfg.py": "",
            "pkg/__init__.py": "", "pkg/m.py": "", "pkg/__init__.pyc": "",
            "only_hidden/.h.py": "", "only_non_identifier/my-mod.py": "", "only_init/__init__.py": "",
            "only_undecodable/readme.md": "", "mixed/x.py": "",
        ])
        // File names that are not UTF-8 are never served and make no namespace package.
        for relative in ["only_undecodable/bad\u{FFFF}.py", "mixed/bad\u{FFFF}.py"] {
            var bytes = Array(tree.path(relative).utf8)
            bytes.replaceSubrange(bytes.count - 6..<bytes.count - 3, with: [0xFF])
            bytes.append(0)
            let descriptor = bytes.withUnsafeBufferPointer {
                $0.withMemoryRebound(to: CChar.self) { open($0.baseAddress!, O_CREAT | O_WRONLY, 0o644) }
            }
            try #require(descriptor >= 0)
            close(descriptor)
        }
        let expected = [
            "__init__x", "___init__", "a\u{0301}", "café", "mixed", "mixed.x", "mod", "only_init",
            "only_non_identifier", "pkg", "pkg.m", "x·y",
        ]
        let plain = try ModuleIndex(root: tree.root).entries()
        let withExcludes = try ModuleIndex(root: tree.root, excludes: ["matches-nothing"]).entries()
        #expect(plain.map(\.name) == expected.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) })
        #expect(plain == withExcludes)
        #expect(plain.first { $0.name == "only_init" }?.kind == .package)
        #expect(plain.first { $0.name == "only_non_identifier" }?.kind == .namespace)
    }

    @Test("a FIFO or socket named like a module is neither listed nor opened")
    func specialFiles() throws {
        let tree = try TemporaryTree(["ok.py": ""])
        #expect(mkfifo(tree.path("pipe.py"), 0o644) == 0)
        let index = try ModuleIndex(root: tree.root)
        #expect(try index.entries().map(\.name) == ["ok"])
        #expect(try index.lookup("pipe") == nil)
    }

    @Test("an unreadable subdirectory serves nothing and does not fail the listing")
    func unreadableSubdirectory() throws {
        let tree = try TemporaryTree(["ok.py": "", "locked/__init__.py": "", "locked/m.py": ""])
        #expect(chmod(tree.path("locked"), 0) == 0)
        let recorder = LogRecorder()
        // As nobody when running as root (see `Unprivileged`): the lock is real, the root is not.
        let (rootError, lockedError, names, lookup) = try Unprivileged.withFileAccess {
            let index = try ModuleIndex(root: tree.root, logger: recorder.logger)
            return (
                Unprivileged.openDirectoryError(tree.root), Unprivileged.openDirectoryError(tree.path("locked")),
                try index.entries().map(\.name), try index.lookup("locked.m")
            )
        }
        try #require(rootError == 0)
        try #require(lockedError == EACCES)
        #expect(names == ["ok"])
        #expect(lookup == nil)
        #expect(recorder.messages(at: .warning).count == 1)
        #expect(recorder.messages(at: .warning).first?.contains("path=\(tree.path("locked"))") == true)
    }

    @Test("stubs, bytecode and extension modules are not served", arguments: [
        "stub.pyi", "stub.pyc", "stub.cpython-311-x86_64-linux-gnu.so", "stub.abi3.so", "stub.pyd", "stub.pyw",
        "stub.py~", "stub.PY",
    ])
    func nonSourceFiles(file: String) throws {
        let tree = try TemporaryTree([file: ""])
        let index = try ModuleIndex(root: tree.root)
        #expect(try index.entries().isEmpty)
        #expect(try index.lookup("stub") == nil)
    }
}

/// `--exclude GLOB`: fnmatch against the root-relative path and against the base name.
@Suite("Exclude patterns")
struct ExcludePatternTests {
    static let files = [
        "tests/__init__.py": "", "tests/test_a.py": "",
        "pkg/__init__.py": "", "pkg/tests/__init__.py": "", "pkg/core.py": "", "pkg/core_test.py": "",
        "b_test.py": "", "build/gen.py": "",
    ]

    func names(excluding patterns: [String]) throws -> [String] {
        let tree = try TemporaryTree(Self.files)
        return try ModuleIndex(root: tree.root, excludes: patterns).entries().map(\.name)
    }

    @Test("without patterns everything is served")
    func noPatterns() throws {
        #expect(
            try names(excluding: []) == [
                "b_test", "build", "build.gen", "pkg", "pkg.core", "pkg.core_test", "pkg.tests", "tests",
                "tests.test_a",
            ])
    }

    @Test("a bare name matches entries of that name at any depth")
    func baseName() throws {
        #expect(try names(excluding: ["tests"]) == ["b_test", "build", "build.gen", "pkg", "pkg.core", "pkg.core_test"])
    }

    @Test("a path matches only that entry, relative to the root")
    func relativePath() throws {
        #expect(
            try names(excluding: ["pkg/tests"]) == [
                "b_test", "build", "build.gen", "pkg", "pkg.core", "pkg.core_test", "tests", "tests.test_a",
            ])
    }

    @Test("wildcards: * also matches /, like Python's fnmatch")
    func wildcards() throws {
        #expect(try names(excluding: ["*_test.py"]) == [
            "build", "build.gen", "pkg", "pkg.core", "pkg.tests", "tests", "tests.test_a",
        ])
        #expect(try names(excluding: ["p*/t*"]) == [
            "b_test", "build", "build.gen", "pkg", "pkg.core", "pkg.core_test", "tests", "tests.test_a",
        ])
        #expect(try names(excluding: ["[bt]*"]) == ["pkg", "pkg.core", "pkg.core_test"])
    }

    @Test("a trailing slash is ignored, and several patterns combine")
    func trailingSlashAndSeveral() throws {
        #expect(try names(excluding: ["build/", "tests"]) == ["b_test", "pkg", "pkg.core", "pkg.core_test"])
    }

    @Test("lookups obey the patterns too")
    func lookupObeysExcludes() throws {
        let tree = try TemporaryTree(Self.files)
        let index = try ModuleIndex(root: tree.root, excludes: ["tests", "*_test.py"])
        #expect(try index.lookup("tests") == nil)
        #expect(try index.lookup("pkg.tests") == nil)
        #expect(try index.lookup("pkg.core_test") == nil)
        #expect(try index.lookup("pkg.core") != nil)
    }

    @Test("excluding __init__.py turns its package into a namespace package")
    func excludedInit() throws {
        let tree = try TemporaryTree(["pkg/__init__.py": "", "pkg/core.py": ""])
        let index = try ModuleIndex(root: tree.root, excludes: ["pkg/__init__.py"])
        #expect(try index.lookup("pkg")?.kind == .namespace)
    }

    @Test("pattern semantics: fnmatch without escapes, against path and name")
    func patternUnit() {
        let patterns = ExcludePatterns(["a/*.py", "x\\y", "lit[!0-9]"])
        #expect(patterns.matches(relativePath: "a/b/c.py", name: "c.py"))
        #expect(!patterns.matches(relativePath: "b/c.py", name: "c.py"))
        #expect(patterns.matches(relativePath: "x\\y", name: "x\\y"))
        #expect(patterns.matches(relativePath: "q/litz", name: "litz"))
        #expect(!patterns.matches(relativePath: "q/lit1", name: "lit1"))
    }
}
