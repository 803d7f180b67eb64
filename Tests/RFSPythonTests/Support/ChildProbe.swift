import Foundation
import Testing

/// Runs one test of this binary again in a child process, with `variable` set, where that test
/// is its own probe: for checks that must have a process to themselves (finalising CPython, which
/// cannot start again; measuring the process's memory, which other tests would inflate).
/// Nothing is skipped: outside the probe, the test's result is the child's.
enum ChildProbe {
    static func isProbe(_ variable: String) -> Bool {
        ProcessInfo.processInfo.environment[variable] == "1"
    }

    /// Runs `testID` (`Suite/test`) in a child and expects it to pass; returns its output.
    @discardableResult
    static func run(_ testID: String, variable: String) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        process.arguments = ["--testing-library", "swift-testing", "--filter", testID]
        var environment = ProcessInfo.processInfo.environment
        environment[variable] = "1"
        process.environment = environment
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        let name = testID.split(separator: "/").last.map(String.init) ?? testID
        #expect(process.terminationStatus == 0, "probe output:\n\(output)")
        #expect(output.contains("Test \(name)() passed"), "probe output:\n\(output)")
        return output
    }
}
