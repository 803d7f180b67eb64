import Foundation
import Testing

@testable import RFSPython

@Suite("Interpreter configuration")
struct ConfigurationTests {
    @Test func isolatedFromTheEnvironmentWithTheStandardLibraryFound() async throws {
        let python = try await SharedPython.interpreter()
        let flags = try await python.withGIL { gil in
            try gil.eval("""
                (__import__('sys').flags.isolated, __import__('sys').flags.ignore_environment,
                 __import__('sys').flags.no_user_site, __import__('sys').dont_write_bytecode,
                 __import__('os').__file__.startswith(__import__('sys').base_prefix),
                 __import__('threading').current_thread() is __import__('threading').main_thread())
                """)
        }
        #expect(flags == "(1, 1, 1, True, True, True)")
    }

    @Test func sysPathStartsWithTheBundledPackage() async throws {
        let python = try await SharedPython.interpreter()
        let directory = try PythonInterpreter.bundledPackageDirectory()
        let first = try await python.withGIL { gil in try gil.eval("__import__('sys').path[0]") }
        #expect(first == directory)
        let origin = try await python.withGIL { gil in
            try gil.eval("__import__('remote_file_source.worker').worker.__file__")
        }
        #expect(origin == directory + "/remote_file_source/worker.py")
    }

    /// The Swift process owns SIGINT/SIGTERM: neither starting Python nor importing `signal` in
    /// a script installs CPython's C-level handlers (the test process leaves them at SIG_DFL).
    @Test func pythonLeavesSignalHandlersAlone() async throws {
        let python = try await SharedPython.interpreter()
        let outcome = try await python.run(code: "import signal", filename: "signals.py", argv: [], output: { _, _ in })
        #expect(outcome == .ok)
        for signal in [SIGINT, SIGTERM, SIGPIPE] {
            var action = sigaction()
            #expect(sigaction(signal, nil, &action) == 0)
            #expect(action.__sigaction_handler.sa_handler == nil, "signal \(signal) has a handler")
        }
    }

    @Test func aSecondInterpreterIsRefused() async throws {
        _ = try await SharedPython.interpreter()
        await #expect(throws: PythonError.alreadyStarted) {
            _ = try await PythonInterpreter()
        }
    }
}
