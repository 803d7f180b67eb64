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
        let result = try await runScript(arguments, in: directory)
        let url = result.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        guard result.status == 0, let port = URLComponents(string: url)?.port else {
            throw DeephavenServerFailure(description: "scripts/deephaven-server start failed (\(result.status)): \(result.stderr)")
        }
        return DeephavenTestServer(directory: directory, url: url, port: port)
    }

    /// Stops the server and waits for it to exit.
    func stop() async {
        _ = try? await Self.runScript(["stop", directory.path], in: directory)
    }

    /// Runs scripts/deephaven-server to completion, its output in files of `directory`.
    ///
    /// Not `Process`: the script leaves a daemon behind (the server, in a session of its own),
    /// and Foundation's `Process.waitUntilExit` was seen never to notice the script's own exit,
    /// leaving it a zombie and the test waiting forever. `posix_spawn` and a blocking `waitpid`
    /// for exactly this pid, on a thread of its own (never Swift's pool), cannot miss it.
    static func runScript(_ arguments: [String], in directory: URL) async throws -> (status: Int32, stdout: String, stderr: String) {
        let outPath = directory.appendingPathComponent("script.out").path
        let errPath = directory.appendingPathComponent("script.err").path
        let argv = [Paths.deephavenServerScript] + arguments
        let pid = try spawnLock.withLock { _ -> pid_t in
            var actions = posix_spawn_file_actions_t()
            posix_spawn_file_actions_init(&actions)
            defer { posix_spawn_file_actions_destroy(&actions) }
            posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
            posix_spawn_file_actions_addopen(&actions, 1, outPath, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
            posix_spawn_file_actions_addopen(&actions, 2, errPath, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
            var cArguments = argv.map { strdup($0) } + [nil]
            defer { for pointer in cArguments { free(pointer) } }
            // The spawning thread may block signals (Swift's and the test runner's threads do);
            // the server must see SIGTERM from `stop`, so start it with none blocked and every
            // signal at its default.
            var attributes = posix_spawnattr_t()
            posix_spawnattr_init(&attributes)
            defer { posix_spawnattr_destroy(&attributes) }
            var none = sigset_t()
            sigemptyset(&none)
            var all = sigset_t()
            sigfillset(&all)
            posix_spawnattr_setsigmask(&attributes, &none)
            posix_spawnattr_setsigdefault(&attributes, &all)
            posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
            var pid: pid_t = 0
            let status = posix_spawn(&pid, argv[0], &actions, &attributes, &cArguments, environ)
            guard status == 0 else { throw DeephavenServerFailure(description: "cannot start \(argv[0]): errno \(status)") }
            return pid
        }
        let status = await withCheckedContinuation { (continuation: CheckedContinuation<Int32, Never>) in
            Thread.detachNewThread {
                var status: Int32 = 0
                while waitpid(pid, &status, 0) == -1, errno == EINTR {}
                continuation.resume(returning: (status >> 8) & 0xFF)
            }
        }
        let stdout = (try? String(contentsOfFile: outPath, encoding: .utf8)) ?? ""
        let stderr = (try? String(contentsOfFile: errPath, encoding: .utf8)) ?? ""
        return (status, stdout, stderr)
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
