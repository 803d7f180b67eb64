import Foundation
import Synchronization
import Testing

@testable import RFSPython
import RFSWire

/// Imports through the real `RemoteMetaPathFinder` (registered with `registerConnection`),
/// `_rfs_bridge` and a Swift handler that serves modules from a dictionary.
@Suite("Remote imports", .timeLimit(.minutes(2)))
struct ImportTests {
    /// Registers `server` as a connection for the duration of `body`.
    private func withServer<T>(
        _ server: ModuleServer,
        _ body: (PythonInterpreter, String) async throws -> T
    ) async throws -> T {
        let python = try await SharedPython.interpreter()
        return try await TestRouter.shared.withConnection(server.handler) { connection in
            try await python.registerConnection(id: connection)
            defer { Task { try? await python.unregisterConnection(id: connection) } }
            return try await body(python, connection)
        }
    }

    @Test func absoluteAndRelativeImportsInNestedPackages() async throws {
        let server = ModuleServer(
            files: [
                "rfsapp": "from .util import helper\nVALUE = helper()\n",
                "rfsapp.util": "def helper():\n    return 41 + 1\n",
                "rfsapp.sub": "",
                "rfsapp.sub.deep": "from ..util import helper\nfrom . import sibling\nRESULT = helper() + sibling.N\n",
                "rfsapp.sub.sibling": "N = 1\n",
            ],
            packages: ["rfsapp", "rfsapp.sub"]
        )
        let output = OutputRecorder()
        let outcome = try await withServer(server) { python, connection in
            try await python.run(
                """
                import rfsapp
                from rfsapp.sub import deep
                import rfsapp.sub.sibling as sibling
                print(rfsapp.VALUE, deep.RESULT, sibling.N)
                print(rfsapp.__file__, rfsapp.__path__, rfsapp.__package__)
                print(deep.__file__, deep.__spec__.origin, deep.__package__)
                import inspect
                print(inspect.getsource(rfsapp.util.helper).splitlines()[0])
                """,
                connection: connection,
                names: ["rfsapp"],
                output: output
            )
        }
        #expect(outcome == .ok)
        #expect(output.stdout == """
            42 43 1
            /client/src/rfsapp/__init__.py ['/client/src/rfsapp'] rfsapp
            /client/src/rfsapp/sub/deep.py /client/src/rfsapp/sub/deep.py rfsapp.sub
            def helper():

            """)
        #expect(server.fetched.value == ["rfsapp", "rfsapp.util", "rfsapp.sub", "rfsapp.sub.deep", "rfsapp.sub.sibling"])
    }

    @Test func unknownModuleIsModuleNotFoundError() async throws {
        let server = ModuleServer(files: ["rfsknown": "X = 1\n"])
        let output = OutputRecorder()
        let outcome = try await withServer(server) { python, connection in
            try await python.run(
                "try:\n    import rfsknown.missing\nexcept ModuleNotFoundError as e:\n    print(type(e).__name__, e.name)\n",
                connection: connection,
                names: ["rfsknown"],
                output: output
            )
        }
        #expect(outcome == .ok)
        #expect(output.stdout == "ModuleNotFoundError rfsknown.missing\n")
    }

    @Test func namesOutsideTheContextAreNotAskedFor() async throws {
        let server = ModuleServer(files: ["rfsother": "X = 1\n"])
        let output = OutputRecorder()
        let outcome = try await withServer(server) { python, connection in
            try await python.run(
                "import json\ntry:\n    import rfsother\nexcept ImportError:\n    print('not served')\n",
                connection: connection,
                names: ["rfsonly"],
                output: output
            )
        }
        #expect(outcome == .ok)
        #expect(output.stdout == "not served\n")
        #expect(server.fetched.value.isEmpty)
    }

    @Test func nonASCIISourceAsTheClientDecodedIt() async throws {
        let server = ModuleServer(files: ["rfslatin": "# -*- coding: latin-1 -*-\nNAME = 'café – ÿ'\n"])
        let output = OutputRecorder()
        let outcome = try await withServer(server) { python, connection in
            try await python.run("import rfslatin\nprint(rfslatin.NAME)\n", connection: connection, names: ["rfslatin"], output: output)
        }
        #expect(outcome == .ok)
        #expect(output.stdout == "café – ÿ\n")
    }

    @Test func syntaxErrorNamesTheClientPathAndLine() async throws {
        let server = ModuleServer(files: ["rfsbroken": "x = 1\ndef f(:\n    pass\n"])
        let output = OutputRecorder()
        let outcome = try await withServer(server) { python, connection in
            try await python.run("import rfsbroken\n", connection: connection, names: ["rfsbroken"], output: output)
        }
        guard case .exception(let exception) = outcome else {
            Issue.record("expected SyntaxError, got \(outcome)")
            return
        }
        #expect(exception.type == "SyntaxError")
        #expect(exception.message.contains("rfsbroken.py, line 2"))
        #expect(exception.traceback.contains("File \"/client/src/rfsbroken.py\", line 2\n    def f(:\n"))
        #expect(exception.traceback.contains("File \"/client/src/main.py\", line 1, in <module>\n    import rfsbroken\n"))
    }

    @Test func moduleRaisingOnImportShowsClientSourceLines() async throws {
        let server = ModuleServer(files: ["rfsboom": "import os\nraise RuntimeError('boom at import')\n"])
        let output = OutputRecorder()
        let outcome = try await withServer(server) { python, connection in
            try await python.run(
                "import sys\ntry:\n    import rfsboom\nfinally:\n    print('rfsboom' in sys.modules)\n",
                connection: connection,
                names: ["rfsboom"],
                output: output
            )
        }
        guard case .exception(let exception) = outcome else {
            Issue.record("expected RuntimeError, got \(outcome)")
            return
        }
        #expect(exception.type == "RuntimeError")
        #expect(exception.message == "boom at import")
        #expect(exception.traceback.contains(
            "File \"/client/src/rfsboom.py\", line 2, in <module>\n    raise RuntimeError('boom at import')\n"
        ))
        #expect(output.stdout == "False\n")
    }

    @Test func settingTheContextEvictsSoTheNextRunFetchesAfresh() async throws {
        let server = ModuleServer(files: ["rfsfresh": "VERSION = 1\n"])
        let first = OutputRecorder()
        let second = OutputRecorder()
        try await withServer(server) { python, connection in
            _ = try await python.run("import rfsfresh\nprint(rfsfresh.VERSION)", connection: connection, names: ["rfsfresh"], output: first)
            server.setSource("VERSION = 2\n", of: "rfsfresh")
            _ = try await python.run("import rfsfresh\nprint(rfsfresh.VERSION)", connection: connection, names: ["rfsfresh"], output: second)
        }
        #expect(first.stdout == "1\n")
        #expect(second.stdout == "2\n")
        #expect(server.fetched.value == ["rfsfresh", "rfsfresh"])
    }

    /// The context a run sets is what `executionContext()` / `topLevelNames()` report. Asked from
    /// a request handler while the run waits, so no other test's run can change it in between.
    @Test func runContextIsReported() async throws {
        let python = try await SharedPython.interpreter()
        let reported = Mutex<(ExecutionContext, [String])?>(nil)
        let output = OutputRecorder()
        let outcome = try await TestRouter.shared.withConnection({ _, _, _, _ in
            let context = try await python.executionContext()
            let names = try await python.topLevelNames()
            reported.withLock { $0 = (context, names) }
            return jsonRPCResult(true)
        }) { connection in
            try await python.run(
                "import _rfs_bridge\n_rfs_bridge.request(\(pyLiteral(connection)), 'ctx', '{}', 10)\n",
                connection: connection,
                names: ["rfsctx_b", "rfsctx_a"],
                output: output
            )
        }
        #expect(outcome == .ok)
        let (context, names) = try #require(reported.withLock { $0 })
        #expect(context.topLevelNames == ["rfsctx_a", "rfsctx_b"])
        #expect(context.connectionID?.hasPrefix("test-") == true)
        #expect(names == ["rfsctx_a", "rfsctx_b"])
    }

    @Test func registerAndUnregisterManageOneFinderPerConnection() async throws {
        let python = try await SharedPython.interpreter()
        let id = "finder-\(UUID().uuidString)"
        let count = "sum(1 for f in __import__('sys').meta_path if getattr(getattr(f, 'connection', None), 'id', None) == \(pyLiteral(id)))"
        try await python.registerConnection(id: id)
        try await python.registerConnection(id: id)
        #expect(try await python.withGIL { gil in try gil.eval(count) } == "1")
        #expect(try await python.withGIL { gil in try gil.eval("__import__('sys').meta_path[0].connection.default_timeout") } != "")
        try await python.unregisterConnection(id: id)
        #expect(try await python.withGIL { gil in try gil.eval(count) } == "0")
    }

    @Test func registeredFindersUseTheConfiguredFetchTimeout() async throws {
        let python = try await SharedPython.interpreter()
        let id = "timeout-\(UUID().uuidString)"
        try await python.registerConnection(id: id)
        let timeout = try await python.withGIL { gil in
            try gil.eval("next(f for f in __import__('sys').meta_path if getattr(getattr(f, 'connection', None), 'id', None) == \(pyLiteral(id))).connection.default_timeout")
        }
        try await python.unregisterConnection(id: id)
        #expect(timeout == "10.0")
    }

    /// A client that never answers: the import fails with ImportError after the finder's timeout,
    /// and meanwhile the owner thread still serves other Python work.
    @Test func unansweredFetchEndsInImportErrorWhileOtherWorkProceeds() async throws {
        let python = try await SharedPython.interpreter()
        let fetchStarted = Watch(false)
        let output = OutputRecorder()
        let outcome = try await TestRouter.shared.withConnection({ _, _, _, _ in
            fetchStarted.update { $0 = true }
            try await suspendUntilCancelled()
            throw BridgeRequestError.failed("unreachable")
        }) { connection in
            // The same worker function registerConnection uses, with a short timeout for the test.
            try await python.withGIL { gil in
                try gil.exec("import remote_file_source.worker as w\nw.register_connection(\(pyLiteral(connection)), 0.5)")
            }
            defer { Task { try? await python.unregisterConnection(id: connection) } }
            async let outcome = python.run(
                """
                import time
                start = time.monotonic()
                try:
                    import rfssilent
                except ImportError as e:
                    print(type(e).__name__, 0.4 < time.monotonic() - start < 10)
                    print(e)
                """,
                connection: connection,
                names: ["rfssilent"],
                output: output
            )
            #expect(await fetchStarted.wait { $0 })
            // Other work proceeds while the fetch is pending.
            #expect(try await python.withGIL { gil in try gil.eval("'still serving'") } == "still serving")
            return try await outcome
        }
        #expect(outcome == .ok)
        let lines = output.stdout.split(separator: "\n")
        #expect(lines.first == "ImportError True")
        #expect(lines.last?.contains("'rfssilent'") == true)
        #expect(lines.last?.contains("timed out") == true)
    }
}
