import Foundation
import Logging
import Synchronization
import Testing

@testable import RFSPython
import RFSWire

/// Many runs and fetches at once, and leak checks. The leak checks measure the process's RSS,
/// which every other test running in this process would inflate, so each runs in a child
/// process of its own (``LeakProbe``): this test binary again, filtered to that one test.
@Suite("Stress", .serialized, .timeLimit(.minutes(5)))
struct StressTests {
    private let logger = Logger(label: "rfs.python.tests.stress")

    /// Four Swift tasks each run scripts that import fixture modules their own connection
    /// serves from an `RFSModuleIndex`, with a fifth task doing `withGIL` work and handlers
    /// asking Python for the context while their run waits. Everything must finish (no
    /// deadlock) with the right results.
    @Test(.timeLimit(.minutes(3)))
    func fourTasksRunScriptsAndAnswerFetches() async throws {
        let python = try await SharedPython.interpreter()
        let iterations = 75
        let scripts: [(code: String, output: String)] = [
            ("import toplevel_mod\nprint(toplevel_mod.greet('t'))", "hello, t\n"),
            ("from pkg_relative.sub.deeper import bottom\nprint(bottom.value())", "15\n"),
            ("import pkg_absolute.nested.inner.mod as m\nprint(m.answer())", "42\n"),
            ("import ns_pkg.inner.mod, latin1_mod\nprint(ns_pkg.inner.mod.describe(), latin1_mod.greeting())", "ns_pkg.part+inner café\n"),
        ]
        let names = ["toplevel_mod", "pkg_relative", "pkg_absolute", "ns_pkg", "latin1_mod"]
        let started = ContinuousClock.now
        let gilJobs = Watch(0)
        let totalFetches = Watch(0)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for worker in 0..<4 {
                group.addTask {
                    let server = try IndexServer.workspace()
                    let fetches = Watch(0)
                    let handler: PythonInterpreter.RequestHandler = { connection, method, params, timeout in
                        fetches.update { $0 += 1 }
                        if fetches.value % 10 == 0 {
                            // Python work from inside a handler while the run waits for it.
                            let context = try await python.executionContext()
                            guard context.connectionID == connection else {
                                throw BridgeRequestError.failed("context is \(context), not \(connection)")
                            }
                        }
                        return try await server.handler(connection, method, params, timeout)
                    }
                    try await TestRouter.shared.withConnection(handler) { connection in
                        try await python.registerConnection(id: connection)
                        for iteration in 0..<iterations {
                            let script = scripts[(worker + iteration) % scripts.count]
                            let output = OutputRecorder()
                            let outcome = try await python.run(script.code, connection: connection, names: names, output: output)
                            #expect(outcome == .ok)
                            #expect(output.stdout == script.output)
                        }
                        try await python.unregisterConnection(id: connection)
                    }
                    // Every run set the context, which evicted the modules: each run fetched afresh.
                    #expect(fetches.value >= iterations * 2)
                    totalFetches.update { $0 += fetches.value }
                }
            }
            group.addTask {
                for index in 0..<200 {
                    let value = try await python.withGIL { gil in try gil.eval("\(index) + 1") }
                    #expect(value == "\(index + 1)")
                    gilJobs.update { $0 += 1 }
                }
            }
            try await group.waitForAll()
        }
        #expect(gilJobs.value == 200)
        logger.info(
            "concurrency: \(4 * iterations) runs, \(totalFetches.value) fetches from the fixture index, 200 withGIL jobs in \(ContinuousClock.now - started)"
        )
    }

    /// 1,000 import/evict cycles of fixture packages (run with context → eviction →
    /// RemoteMetaPathFinder → `_rfs_bridge.request` → Swift handler → `RFSModuleIndex` → loader)
    /// keep RSS flat.
    @Test(.timeLimit(.minutes(3)))
    func fixtureImportEvictCyclesKeepMemoryFlat() async throws {
        guard LeakProbe.isProbe else {
            try LeakProbe.runInChild("StressTests/fixtureImportEvictCyclesKeepMemoryFlat")
            return
        }
        let python = try await SharedPython.interpreter()
        let server = try IndexServer.workspace()
        let cycles = 1_000
        let code = """
            from pkg_relative.sub.deeper import bottom
            import latin1_mod, ns_pkg.inner.mod
            assert bottom.value() == 15 and latin1_mod.greeting() == "café"
            """
        let names = ["pkg_relative", "latin1_mod", "ns_pkg"]
        let (before, after) = try await TestRouter.shared.withConnection(server.handler) { connection in
            try await python.registerConnection(id: connection)
            defer { Task { try? await python.unregisterConnection(id: connection) } }
            func cycle() async throws {
                let outcome = try await python.run(code, connection: connection, names: names, output: OutputRecorder())
                #expect(outcome == .ok)
            }
            for _ in 0..<100 {
                try await cycle()
            }
            try await python.withGIL { gil in try gil.exec("import gc; gc.collect()") }
            let before = residentBytes()
            for _ in 0..<cycles {
                try await cycle()
            }
            try await python.withGIL { gil in try gil.exec("import gc; gc.collect()") }
            return (before, residentBytes())
        }
        let growth = after - before
        let fetchCount = server.fetched.value.count
        let perCycle = fetchCount / (100 + cycles)
        logger.info(
            "leak check (fixtures): \(cycles) import/evict cycles, \(perCycle) fetches each: RSS \(before / 1024) KiB → \(after / 1024) KiB (growth \(growth / 1024) KiB)"
        )
        // Every cycle fetched the same modules again (the context evicted them).
        #expect(fetchCount == perCycle * (100 + cycles) && perCycle >= 8)
        #expect(growth < 20 * 1024 * 1024, "RSS grew by \(growth / 1024) KiB over \(cycles) cycles")
    }

    /// The same with a large module (~48 KB of source per fetch), so that leaking a source, a
    /// module or a response per fetch could not hide below the bound.
    @Test(.timeLimit(.minutes(3)))
    func largeModuleImportEvictCyclesKeepMemoryFlat() async throws {
        guard LeakProbe.isProbe else {
            try LeakProbe.runInChild("StressTests/largeModuleImportEvictCyclesKeepMemoryFlat")
            return
        }
        let python = try await SharedPython.interpreter()
        // ~48 KB of source per fetch, so a leaked source, module or response would show up.
        let payload = String(repeating: "x", count: 16 * 1024)
        let source = """
            DATA = "\(payload)"
            TABLE = {i: str(i) * 8 for i in range(200)}
            def f(n):
                return len(DATA) + n

            """ + (0..<100).map { "def g\($0)(a, b=\($0)):\n    return a * b + \($0)\n" }.joined()
        let server = ModuleServer(files: ["rfsleak": "from .mod import f\n", "rfsleak.mod": source], packages: ["rfsleak"])
        let cycles = 1_000
        let (before, after) = try await TestRouter.shared.withConnection(server.handler) { connection in
            try await python.registerConnection(id: connection)
            defer { Task { try? await python.unregisterConnection(id: connection) } }
            func cycle() async throws {
                let output = OutputRecorder()
                // The run's context evicts rfsleak.* first, so every cycle fetches both modules.
                let outcome = try await python.run(
                    "import rfsleak\nassert rfsleak.f(1) == 16385\n",
                    connection: connection,
                    names: ["rfsleak"],
                    output: output
                )
                #expect(outcome == .ok)
            }
            for _ in 0..<100 {
                try await cycle()  // warm-up: caches, allocator arenas
            }
            try await python.withGIL { gil in try gil.exec("import gc; gc.collect()") }
            let before = residentBytes()
            for _ in 0..<cycles {
                try await cycle()
            }
            try await python.withGIL { gil in try gil.exec("import gc; gc.collect()") }
            return (before, residentBytes())
        }
        let growth = after - before
        logger.info(
            "leak check (48 KB module): \(cycles) import/evict cycles: RSS \(before / 1024) KiB → \(after / 1024) KiB (growth \(growth / 1024) KiB)"
        )
        #expect(server.fetched.value.count == (100 + cycles) * 2)
        #expect(growth < 20 * 1024 * 1024, "RSS grew by \(growth / 1024) KiB over \(cycles) cycles")
    }

    /// Every bridge request and every output write reads a Swift closure that Python may not
    /// hold; 20,000 of each must not grow memory (a reabstraction bug once made each read cost
    /// ~100 bytes and one more level of thunks).
    @Test(.timeLimit(.minutes(3)))
    func bridgeCallsAndOutputDoNotAccumulate() async throws {
        guard LeakProbe.isProbe else {
            try LeakProbe.runInChild("StressTests/bridgeCallsAndOutputDoNotAccumulate")
            return
        }
        let python = try await SharedPython.interpreter()
        let lines = Watch(0)
        let output: PythonInterpreter.OutputHandler = { _, _ in lines.update { $0 += 1 } }
        let (before, after) = try await TestRouter.shared.withConnection({ _, _, _, _ in
            #"{"jsonrpc":"2.0","id":1,"result":null}"#
        }) { connection in
            let code = { (count: Int) in
                """
                import _rfs_bridge
                for i in range(\(count)):
                    _rfs_bridge.request(\(pyLiteral(connection)), "ping", "{}", 10)
                    print(i)
                """
            }
            _ = try await python.run(code: code(2_000), filename: "warm.py", argv: [], output: output)
            let before = residentBytes()
            let outcome = try await python.run(code: code(20_000), filename: "calls.py", argv: [], output: output)
            #expect(outcome == .ok)
            return (before, residentBytes())
        }
        let growth = after - before
        logger.info("bridge: 20000 requests + 20000 output lines: RSS growth \(growth / 1024) KiB")
        #expect(lines.value == 22_000)
        #expect(growth < 2 * 1024 * 1024, "RSS grew by \(growth / 1024) KiB")
    }
}

/// The leak checks run alone, each in a child process (see ``ChildProbe``).
enum LeakProbe {
    static let variable = "RFS_PYTHON_LEAK_PROBE"
    static var isProbe: Bool { ChildProbe.isProbe(variable) }

    static func runInChild(_ testID: String) throws {
        try ChildProbe.run(testID, variable: variable)
    }
}
