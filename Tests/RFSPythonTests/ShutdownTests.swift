import Foundation
import Testing

@testable import RFSPython
import RFSWire

/// Shutting down finalises CPython, which cannot be started again in the same process, so the
/// check runs in a child process: this test binary again, running only this same test with the
/// probe variable set, in which case the test is the probe itself. Nothing is ever skipped.
@Suite("Shutdown", .timeLimit(.minutes(2)))
struct ShutdownTests {
    static let probeVariable = "RFS_PYTHON_SHUTDOWN_PROBE"
    static var isProbe: Bool { ChildProbe.isProbe(probeVariable) }

    @Test(.timeLimit(.minutes(2)))
    func shutdownInterruptsFinalisesAndRefusesWork() async throws {
        if Self.isProbe {
            try await probe()
            return
        }
        let output = try ChildProbe.run(
            "ShutdownTests/shutdownInterruptsFinalisesAndRefusesWork", variable: Self.probeVariable)
        #expect(output.contains("atexit ran"), "probe output:\n\(output)")
    }

    /// Runs only in the child process started above.
    private func probe() async throws {
        let python = try await PythonInterpreter()
        let output = OutputRecorder()
        async let spinning = python.run(
            code: "import atexit\natexit.register(lambda: print('atexit ran', flush=True))\nprint('spinning', flush=True)\nwhile True: pass\n",
            filename: "spin.py",
            argv: [],
            output: output.callback
        )
        #expect(await output.waitFor("spinning\n"))
        await python.shutdown()
        // The run in progress was interrupted rather than waited for.
        guard case .exception(let exception) = try await spinning else {
            Issue.record("expected the running script to be interrupted")
            return
        }
        #expect(exception.type == "KeyboardInterrupt")
        // Nothing more is accepted, and shutting down again is harmless.
        await #expect(throws: PythonError.shutDown) {
            try await python.run(code: "print('late')", filename: "late.py", argv: [], output: { _, _ in })
        }
        await #expect(throws: PythonError.shutDown) {
            try await python.withGIL { gil in try gil.eval("1") }
        }
        await python.shutdown()
        await #expect(throws: PythonError.alreadyStarted) {
            _ = try await PythonInterpreter()
        }
    }
}
