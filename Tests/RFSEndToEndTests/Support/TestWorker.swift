import Foundation
import RFSProtocol

/// A persistent worker for a test: `rfs worker --handshake` started the way `rfs run` starts
/// its private worker, so the test learns the URL and token from the one handshake line.
/// It stops when the test closes its stdin.
final class TestWorker: Sendable {
    let url: String
    let token: String
    let process: ChildProcess
    let tokenFile: URL

    private init(url: String, token: String, process: ChildProcess, tokenFile: URL) {
        self.url = url
        self.token = token
        self.process = process
        self.tokenFile = tokenFile
    }

    static func start(extraArguments: [String] = []) async throws -> TestWorker {
        let process = try ChildProcess(
            ["worker", "--handshake", "--log-level", "warning"] + extraArguments,
            environment: [
                ChildHandshake.cookieVariable: ChildHandshake.cookieValue,
                ChildHandshake.versionsVariable: "1",
            ])
        guard let line = await process.nextLine(), let (url, token) = ChildHandshake.parse(line) else {
            let result = await process.result()
            throw TestFailure("worker did not hand shake: status \(result.status), stderr: \(result.stderr)")
        }
        let tokenFile = FileManager.default.temporaryDirectory.appendingPathComponent("rfs-token-\(UUID().uuidString)")
        try token.write(to: tokenFile, atomically: true, encoding: .utf8)
        return TestWorker(url: url, token: token, process: process, tokenFile: tokenFile)
    }

    /// The worker daemon's process id.
    var pid: Int32 { process.pid }

    /// `rfs run` against this worker.
    func run(_ script: String, sources: [String], arguments: [String] = []) async throws -> ChildProcess.Result {
        try await rfs(
            ["run", "--worker", url, "--token-file", tokenFile.path] + sources.flatMap { ["--source", $0] }
                + [script] + (arguments.isEmpty ? [] : ["--"] + arguments))
    }

    func stop() async -> ChildProcess.Result {
        process.closeStdin()
        try? FileManager.default.removeItem(at: tokenFile)
        return await process.result()
    }
}

struct TestFailure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
