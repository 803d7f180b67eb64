import Foundation
import Testing

@testable import RFSPython
import RFSWire

@Suite("Interpreter configuration", .timeLimit(.minutes(2)))
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
    /// a script installs CPython's C-level handlers. (Other tests in this process may install
    /// their own handlers, so the check is "not a function inside libpython".)
    @Test func pythonLeavesSignalHandlersAlone() async throws {
        let python = try await SharedPython.interpreter()
        let outcome = try await python.run(code: "import signal", filename: "signals.py", argv: [], output: { _, _ in })
        #expect(outcome == .ok)
        for signal in [SIGINT, SIGTERM] {
            var action = sigaction()
            #expect(sigaction(signal, nil, &action) == 0)
            guard let handler = action.__sigaction_handler.sa_handler else { continue }  // SIG_DFL
            let address = unsafeBitCast(handler, to: UnsafeRawPointer.self)
            guard UInt(bitPattern: address) > 1 else { continue }  // SIG_IGN
            let value = UInt(bitPattern: address)
            let inPython = try libpythonRanges().contains { $0.contains(value) }
            #expect(!inPython, "signal \(signal) is handled by a function inside libpython")
        }
    }

    /// Address ranges of libpython's mappings, from /proc/self/maps.
    private func libpythonRanges() throws -> [ClosedRange<UInt>] {
        try String(contentsOfFile: "/proc/self/maps", encoding: .utf8)
            .split(separator: "\n")
            .filter { $0.contains("libpython") }
            .compactMap { line -> ClosedRange<UInt>? in
                let bounds = line.split(separator: " ")[0].split(separator: "-")
                guard bounds.count == 2, let low = UInt(bounds[0], radix: 16), let high = UInt(bounds[1], radix: 16) else {
                    return nil
                }
                return low...high
            }
    }

    @Test func aSecondInterpreterIsRefused() async throws {
        _ = try await SharedPython.interpreter()
        await #expect(throws: PythonError.alreadyStarted) {
            _ = try await PythonInterpreter()
        }
    }
}
