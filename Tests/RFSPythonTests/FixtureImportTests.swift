import Foundation
import Testing

@testable import RFSPython
import RFSWire

/// Imports from `fixtures/workspace` (see fixtures/README.md for the expected values) served by
/// an `RFSModuleIndex`, through the real finder, `_rfs_bridge` and a Swift handler.
@Suite("Imports from the fixture workspace", .timeLimit(.minutes(2)))
struct FixtureImportTests {
    private static let topLevelNames = [
        "toplevel_mod", "pkg_relative", "pkg_absolute", "ns_pkg", "latin1_mod", "café", "bad_syntax",
        "raises_on_import", "pkg_data", "shared_name", "shadowed", "mod_over_ns",
    ]

    private func run(_ code: String, server: IndexServer) async throws -> (RunResult, OutputRecorder) {
        let python = try await SharedPython.interpreter()
        let output = OutputRecorder()
        let outcome = try await TestRouter.shared.withConnection(server.handler) { connection in
            try await python.registerConnection(id: connection)
            defer { Task { try? await python.unregisterConnection(id: connection) } }
            return try await python.run(code, connection: connection, names: Self.topLevelNames, output: output)
        }
        return (outcome, output)
    }

    @Test func plainModuleAndItsSource() async throws {
        let server = try IndexServer.workspace()
        let root = server.index.rootPath
        let (outcome, output) = try await run(
            """
            import inspect, toplevel_mod
            print(toplevel_mod.VALUE, toplevel_mod.greet(), toplevel_mod.greet("x"))
            print(toplevel_mod.__file__)
            print(inspect.getsource(toplevel_mod.greet).splitlines()[0])
            """,
            server: server
        )
        #expect(outcome == .ok)
        #expect(output.stdout == "42 hello, world hello, x\n\(root)/toplevel_mod.py\ndef greet(name=\"world\"):\n")
    }

    @Test func relativeImportsThroughNestedPackages() async throws {
        let server = try IndexServer.workspace()
        let (outcome, output) = try await run(
            """
            import pkg_relative
            from pkg_relative.sub.deeper import bottom
            print(pkg_relative.compute(), pkg_relative.sub.sub_value(), bottom.where(), bottom.value())
            """,
            server: server
        )
        #expect(outcome == .ok)
        #expect(output.stdout == "27 7 pkg_relative.sub.deeper.bottom 15\n")
    }

    @Test func absoluteImportsThroughNestedPackages() async throws {
        let server = try IndexServer.workspace()
        let (outcome, output) = try await run(
            """
            import pkg_absolute
            import pkg_absolute.nested.inner.mod as mod
            print(pkg_absolute.total([1, 2, 3]), pkg_absolute.nested.nested_sum(), mod.answer())
            """,
            server: server
        )
        #expect(outcome == .ok)
        #expect(output.stdout == "6 3 42\n")
    }

    @Test func namespacePackages() async throws {
        let server = try IndexServer.workspace()
        let root = server.index.rootPath
        let (outcome, output) = try await run(
            """
            import ns_pkg, ns_pkg.part, ns_pkg.inner.mod
            print(ns_pkg.__spec__.origin, list(ns_pkg.__path__))
            print(ns_pkg.part.part(), ns_pkg.inner.mod.describe())
            """,
            server: server
        )
        #expect(outcome == .ok)
        #expect(output.stdout == "None ['\(root)/ns_pkg']\nns_pkg.part ns_pkg.part+inner\n")
    }

    @Test func latin1AndNonASCIINames() async throws {
        let server = try IndexServer.workspace()
        let (outcome, output) = try await run(
            "import latin1_mod, café\nprint(latin1_mod.greeting(), café.name())\n",
            server: server
        )
        #expect(outcome == .ok)
        #expect(output.stdout == "café café\n")
    }

    @Test func precedenceAndDataPackages() async throws {
        let server = try IndexServer.workspace()
        let (outcome, output) = try await run(
            """
            import shadowed, mod_over_ns, pkg_data, shared_name
            print(shadowed.WHICH, mod_over_ns.WHICH, pkg_data.name(), pkg_data.DATA_FILE, shared_name.who())
            try:
                import mod_over_ns.hidden_by_module
            except ModuleNotFoundError as e:
                print("not found:", e.name)
            """,
            server: server
        )
        #expect(outcome == .ok)
        #expect(output.stdout == "package module pkg_data data.txt a\nnot found: mod_over_ns.hidden_by_module\n")
    }

    @Test func syntaxErrorNamesTheClientPathAndLine() async throws {
        let server = try IndexServer.workspace()
        let root = server.index.rootPath
        let (outcome, _) = try await run("import bad_syntax\n", server: server)
        guard case .exception(let exception) = outcome else {
            Issue.record("expected SyntaxError, got \(outcome)")
            return
        }
        #expect(exception.type == "SyntaxError")
        #expect(exception.message.contains("'(' was never closed"))
        #expect(exception.traceback.contains("File \"\(root)/bad_syntax.py\", line 4\n    return (1,\n"))
    }

    @Test func moduleRaisingOnImport() async throws {
        let server = try IndexServer.workspace()
        let root = server.index.rootPath
        let (outcome, _) = try await run("import raises_on_import\n", server: server)
        guard case .exception(let exception) = outcome else {
            Issue.record("expected RuntimeError, got \(outcome)")
            return
        }
        #expect(exception.type == "RuntimeError")
        #expect(exception.message == "boom from fixture")
        #expect(exception.traceback.contains(
            "File \"\(root)/raises_on_import.py\", line 4, in <module>\n    raise RuntimeError(\"boom from fixture\")\n"
        ))
    }

    @Test func namesTheIndexDoesNotServeAreNotFound() async throws {
        let server = try IndexServer.workspace()
        let (outcome, output) = try await run(
            """
            import importlib
            for name in ["toplevel_mod.nothing", "pkg_relative.missing", "ns_pkg.nothing"]:
                try:
                    importlib.import_module(name)
                except ModuleNotFoundError as e:
                    print(e.name)
            """,
            server: server
        )
        #expect(outcome == .ok)
        #expect(output.stdout == "toplevel_mod.nothing\npkg_relative.missing\nns_pkg.nothing\n")
    }
}
