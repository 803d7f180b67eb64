#if Deephaven
import Foundation

/// A real Deephaven server (deephaven-server from PyPI, with the reference remote-file-source
/// plugin) started by scripts/deephaven-server in a folder of its own, for one test.
struct DeephavenTestServer: Sendable {
    static let psk = "rfs-e2e-psk-0123456789"

    let directory: URL
    let url: String
    let port: Int

    /// Starts a server and runs `body` with it; the server is stopped afterwards, whatever
    /// `body` does. `sessionMillis` sets Deephaven's `http.session.durationMs`.
    static func with<Result>(
        port: Int? = nil, sessionMillis: Int? = nil, plugin: Bool = true, _ body: (DeephavenTestServer) async throws -> Result
    ) async throws -> Result {
        let directory = try Paths.temporaryDirectory()
        let server = try await start(directory: directory, port: port, sessionMillis: sessionMillis, plugin: plugin)
        do {
            let result = try await body(server)
            await server.stop()
            try? FileManager.default.removeItem(at: directory)
            return result
        } catch {
            await server.stop()
            try? FileManager.default.removeItem(at: directory)
            throw error
        }
    }

    static func start(directory: URL, port: Int?, sessionMillis: Int?, plugin: Bool) async throws -> DeephavenTestServer {
        var arguments = ["start", directory.path, "--psk", psk]
        if let port { arguments += ["--port", "\(port)"] }
        if let sessionMillis { arguments += ["--session-ms", "\(sessionMillis)"] }
        if !plugin { arguments.append("--no-plugin") }
        let child = try ChildProcess(arguments, executable: Paths.deephavenServerScript)
        child.closeStdin()
        let result = await child.result()
        let url = result.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        guard result.status == 0, let port = URLComponents(string: url)?.port else {
            throw DeephavenServerFailure(description: "scripts/deephaven-server start failed (\(result.status)): \(result.stderr)")
        }
        return DeephavenTestServer(directory: directory, url: url, port: port)
    }

    /// Stops the server and waits for it to exit.
    func stop() async {
        if let child = try? ChildProcess(["stop", directory.path], executable: Paths.deephavenServerScript) {
            child.closeStdin()
            _ = await child.result()
        }
    }

    /// Restarts the server on the same port (a new JVM: every session and export is gone).
    func restart(sessionMillis: Int? = nil) async throws -> DeephavenTestServer {
        await stop()
        return try await Self.start(directory: directory, port: port, sessionMillis: sessionMillis, plugin: true)
    }

    /// The environment a client of this server runs with.
    var environment: [String: String] { ["DEEPHAVEN_PSK": Self.psk] }
}

struct DeephavenServerFailure: Error, CustomStringConvertible {
    var description: String
}

extension Paths {
    static let deephavenServerScript = packageRoot.appendingPathComponent("scripts/deephaven-server").path
}
#endif  // Deephaven
