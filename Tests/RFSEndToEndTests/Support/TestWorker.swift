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

    /// - Parameter hiding: folders the worker must not see: it runs in a mount namespace of its
    ///   own (`unshare -m`, as root) where an empty tmpfs covers each of them, as on a real
    ///   remote machine that cannot read the client's disk.
    static func start(extraArguments: [String] = [], hiding: [String] = []) async throws -> TestWorker {
        let arguments = ["worker", "--handshake", "--log-level", "warning"] + extraArguments
        let process = try ChildProcess(
            hiding.isEmpty ? arguments : HiddenDisk.launcherArguments(hiding: hiding) + [Paths.rfs] + arguments,
            executable: hiding.isEmpty ? Paths.rfs : HiddenDisk.unshare,
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
    func run(_ script: String, sources: [String], options: [String] = [], arguments: [String] = []) async throws -> ChildProcess.Result {
        try await rfs(
            ["run", "--worker", url, "--token-file", tokenFile.path] + options + sources.flatMap { ["--source", $0] }
                + [script] + (arguments.isEmpty ? [] : ["--"] + arguments))
    }

    func stop() async -> ChildProcess.Result {
        process.closeStdin()
        try? FileManager.default.removeItem(at: tokenFile)
        return await process.result()
    }
}

/// A mount namespace in which given folders are empty (DESIGN.md §7: a worker that really
/// cannot see the client's disk).
enum HiddenDisk {
    static let unshare = "/usr/bin/unshare"

    /// `unshare`'s arguments up to the command it runs: a private mount namespace, a tmpfs over
    /// each folder, then `exec` of the rest.
    static func launcherArguments(hiding folders: [String]) -> [String] {
        let script = """
            set -e
            count=$1; shift
            while [ "$count" -gt 0 ]; do mount -t tmpfs -o size=1m,mode=0755 rfs-hidden "$1"; shift; count=$((count - 1)); done
            exec "$@"
            """
        return ["--mount", "--propagation", "private", "--", "/bin/sh", "-c", script, "sh", String(folders.count)] + folders
    }
}

struct TestFailure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
