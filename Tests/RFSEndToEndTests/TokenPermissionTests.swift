import Foundation
import RFSProtocol
import Synchronization
import Testing

extension EndToEnd {
    /// Issue 10 "Tokens and permissions", with a real `rfs worker --tokens-file` and real clients:
    /// each role allowed and refused, connection-id ownership, runs that name another token's
    /// connection id, weak tokens and bad tokens files refused at start, the single token, and
    /// the audit log of runs.
    @Suite(.timeLimit(.minutes(4)))
    struct TokenPermissionTests {
        @Test("each permission allows its methods and nothing else; refusals are one clear line and exit 2")
        func rolesAllowedAndRefused() async throws {
            let worker = try await TokenWorker.start()
            defer { worker.remove() }

            // run+serve: what `rfs run` needs (it serves its own imports).
            let alice = try await worker.rfs(["run", "--source", Paths.workspace, Paths.job("hello.py")], as: "alice")
            #expect(alice.status == 0)
            #expect(alice.stdout == "hello from the worker\n")

            // serve without run: `rfs serve` works, `rfs run` is refused at `run`.
            let serverOnly = try await worker.rfs(["run", "--source", Paths.workspace, Paths.job("hello.py")], as: "srv")
            #expect(serverOnly.status == 2)
            #expect(serverOnly.stdout.isEmpty)
            #expect(serverOnly.stderr == "rfs: \(worker.url) refused: permission denied: token 'srv' may not run code (needs the run permission)\n")
            let serve = try worker.serve(id: "srv-id", as: "srv")
            #expect(try #require(await serve.nextLine()).contains("as connection id srv-id"))
            serve.signal(SIGINT)
            #expect(await serve.result().status == 0)

            // info only: `rfs info` works; `rfs run` and `rfs serve` are refused at set_connection_id.
            let viewerInfo = try await worker.rfs(["info", "--worker", worker.url], as: "viewer")
            #expect(viewerInfo.status == 0)
            let viewerRun = try await worker.rfs(["run", "--source", Paths.workspace, Paths.job("hello.py")], as: "viewer")
            #expect(viewerRun.status == 2)
            #expect(viewerRun.stderr.contains("permission denied: token 'viewer' may not serve imports (set_connection_id) (needs the serve permission)"))
            #expect(viewerRun.stderr.split(separator: "\n").count == 1)
            let viewerServe = try await worker.rfs(["serve", Paths.workspace, "--worker", worker.url], as: "viewer")
            #expect(viewerServe.status == 2)
            #expect(viewerServe.stderr.contains("refused: permission denied: token 'viewer' may not serve imports"))

            // No info: `rfs info` is refused.
            let aliceInfo = try await worker.rfs(["info", "--worker", worker.url], as: "alice")
            #expect(aliceInfo.status == 2)
            #expect(aliceInfo.stderr == "rfs: \(worker.url) refused: permission denied: token 'alice' may not read the worker's execution context (needs the info permission)\n")

            // run without serve: code runs; claiming a connection id does not.
            let runner = try await RawClient(url: worker.url, token: TokenWorker.token("runner"))
            let (ran, output) = try await runner.call("run", params: ["code": "print(6 * 7)"])
            #expect(ran["result"] == ["status": "ok"])
            #expect(output == "42\n")
            let (claim, _) = try await runner.call("set_connection_id", params: ["id": "runner-id"])
            #expect(claim["error"]?["code"] == .int(-32001))
            #expect(claim["error"]?["message"] == "permission denied: token 'runner' may not serve imports (set_connection_id) (needs the serve permission)")
            let (info, _) = try await runner.call("request_plugin_info")
            #expect(info["error"]?["code"] == .int(-32001))
            let (initialize, _) = try await runner.call("initialize", params: ["protocol_versions": [1], "client": ["name": "t", "version": "1"]])
            #expect(initialize["result"]?["protocol_version"] == 1, "initialize only describes the worker: everyone may")
            await runner.close()

            // admin: everything.
            let opsRun = try await worker.rfs(["run", "--source", Paths.workspace, Paths.job("hello.py")], as: "ops")
            #expect(opsRun.status == 0)
            let opsInfo = try await worker.rfs(["info", "--worker", worker.url], as: "ops")
            #expect(opsInfo.status == 0)

            // Every run is logged at info with its token's name; so is each session's opening.
            let log = await worker.stop()
            #expect(log.status == 0)
            let lines = log.stderr.split(separator: "\n")
            for name in ["alice", "ops", "runner"] {
                #expect(lines.contains { $0.contains("principal=\(name)") && $0.hasSuffix("] run") }, "\(name)'s run is logged")
                #expect(lines.contains { $0.contains("principal=\(name)") && $0.hasSuffix("] session opened") })
            }
            #expect(lines.contains { $0.contains("principal=srv") && $0.contains("needs=run") && $0.hasSuffix("] permission denied") })
            #expect(lines.contains { $0.contains("principal=viewer") && $0.contains("needs=serve") && $0.hasSuffix("] permission denied") })
            #expect(lines.contains { $0.contains("tokens loaded") && $0.contains("alice=run,serve") && $0.contains("ops=admin") })
            #expect(!log.stderr.contains(TokenWorker.token("alice")), "no token appears in the log")
        }

        @Test("another token cannot take a connection id over; the same token can claim it again")
        func connectionIDTakeover() async throws {
            let worker = try await TokenWorker.start()
            defer { worker.remove() }
            let first = try worker.serve(id: "shared", as: "alice")
            #expect(try #require(await first.nextLine()).contains("as connection id shared"))

            let bob = try await worker.rfs(["serve", Paths.workspaceB, "--worker", worker.url, "--id", "shared"], as: "bob")
            #expect(bob.status == 2)
            #expect(bob.stdout.isEmpty)
            #expect(bob.stderr == "rfs: \(worker.url) refused: connection id 'shared' belongs to another token\n")
            let admin = try await worker.rfs(["serve", Paths.workspaceB, "--worker", worker.url, "--id", "shared"], as: "ops")
            #expect(admin.status == 2, "admin may run with any id, but not take one over")

            // Alice reconnecting (a second session of the same token) claims it again...
            let second = try worker.serve(id: "shared", as: "alice")
            #expect(try #require(await second.nextLine()).contains("as connection id shared"))
            // ...and the first session's end does not release it from the second.
            first.signal(SIGINT)
            #expect(await first.result().status == 0)
            let tool = try await RawClient(url: worker.url, token: TokenWorker.token("alice"))
            let (reply, output) = try await tool.call(
                "run",
                params: [
                    "code": "import toplevel_mod; print(toplevel_mod.VALUE)",
                    "context": ["connection_id": "shared", "top_level_names": ["toplevel_mod"]],
                ])
            #expect(reply["result"] == ["status": "ok"])
            #expect(output == "42\n")
            await tool.close()
            second.signal(SIGINT)
            #expect(await second.result().status == 0)
            let log = await worker.stop()
            #expect(log.stderr.contains("connection id refused: it belongs to another token"))
        }

        @Test("a run naming another token's connection id is refused unless the runner is admin, also when it would inherit it")
        func foreignConnectionID() async throws {
            let worker = try await TokenWorker.start()
            defer { worker.remove() }
            let serve = try worker.serve(id: "alice-src", as: "alice")
            #expect(try #require(await serve.nextLine()).contains("as connection id alice-src"))
            let code = "import toplevel_mod; print(toplevel_mod.VALUE)"
            let aliceContext: JSONValue = ["connection_id": "alice-src", "top_level_names": ["toplevel_mod"]]

            let bob = try await RawClient(url: worker.url, token: TokenWorker.token("bob"))
            let (refused, refusedOutput) = try await bob.call("run", params: ["code": .string(code), "context": aliceContext])
            #expect(refused["error"]?["code"] == .int(-32001))
            #expect(
                refused["error"]?["message"]
                    == "permission denied: token 'bob' may not run with connection id 'alice-src', which belongs to another token (needs the admin permission)")
            #expect(refusedOutput.isEmpty)

            let ops = try await RawClient(url: worker.url, token: TokenWorker.token("ops"))
            let (allowed, output) = try await ops.call("run", params: ["code": .string(code), "context": aliceContext])
            #expect(allowed["result"] == ["status": "ok"])
            #expect(output == "42\n")
            await ops.close()

            // The worker's current context now names alice-src: a run without a context would
            // inherit it (the reference's "context stays set"), so Bob's is refused too.
            let (inherited, _) = try await bob.call("run", params: ["code": .string(code)])
            #expect(inherited["error"]?["code"] == .int(-32001))
            #expect(inherited["error"]?["message"]?.stringValue?.contains("connection id 'alice-src'") == true)

            // An id nobody holds may be named, but if another token claims it during the run,
            // it does not serve the run: the import fails (ImportError from the fetch's PermissionError).
            let gate = try Paths.temporaryDirectory()
            defer { try? FileManager.default.removeItem(at: gate) }
            let fifo = gate.appendingPathComponent("go").path
            #expect(mkfifo(fifo, 0o600) == 0)
            try await bob.startRun(
                id: "late",
                code: """
                    open(\(JSONValue.string(fifo).serialized())).read()
                    try:
                        import toplevel_mod
                    except Exception as error:
                        print(type(error).__name__, error)
                    """,
                context: ["connection_id": "late-id", "top_level_names": ["toplevel_mod"]])
            let late = try worker.serve(id: "late-id", as: "alice")
            #expect(try #require(await late.nextLine()).contains("as connection id late-id"))
            try "go".write(toFile: fifo, atomically: false, encoding: .utf8)
            let (lateReply, lateOutput) = try await bob.reply(to: "late")
            #expect(lateReply["result"] == ["status": "ok"])
            #expect(lateOutput.hasPrefix("ImportError cannot import 'toplevel_mod'"))
            #expect(lateOutput.contains("PermissionError: connection id 'late-id' belongs to another token than the run's ('bob')"))
            await bob.close()

            for process in [serve, late] {
                process.signal(SIGINT)
                #expect(await process.result().status == 0)
            }
            let log = await worker.stop()
            #expect(log.stderr.split(separator: "\n").contains { $0.contains("principal=bob") && $0.hasSuffix("] run refused") })
        }

        @Test("weak tokens, bad tokens files and contradictory options are refused at start with one line")
        func refusedAtStart() async throws {
            let folder = try Paths.temporaryDirectory()
            defer { try? FileManager.default.removeItem(at: folder) }
            func tokensFile(_ text: String, mode: mode_t = 0o600) throws -> String {
                let path = folder.appendingPathComponent("tokens-\(UUID().uuidString)").path
                try text.write(toFile: path, atomically: true, encoding: .utf8)
                #expect(chmod(path, mode) == 0)
                return path
            }
            let good = try tokensFile("alice run,serve \(TokenWorker.token("alice"))\n")
            let shortFile = folder.appendingPathComponent("short-token").path
            try "tiny-token\n".write(toFile: shortFile, atomically: true, encoding: .utf8)
            let badLine = try tokensFile("# team\nalice run,serve \(TokenWorker.token("alice"))\nbob run,serve short\n")
            let badPermission = try tokensFile("alice run,exec \(TokenWorker.token("alice"))\n")
            let open = try tokensFile("alice run \(TokenWorker.token("alice"))\n", mode: 0o644)

            let cases: [(arguments: [String], environment: [String: String], message: String)] = [
                ([], ["RFS_TOKEN": " "], "rfs: RFS_TOKEN is refused: it is made of whitespace"),
                ([], ["RFS_TOKEN": "short"], "rfs: RFS_TOKEN is refused: it has 5 characters; at least 16 are needed"),
                ([], ["RFS_TOKEN": "a token with spaces in it"], "rfs: RFS_TOKEN is refused: it contains whitespace (U+20)"),
                (["--token-file", shortFile], ["RFS_TOKEN": ""], "rfs: the token in \(shortFile) is refused: it has 10 characters"),
                (["--tokens-file", badLine], ["RFS_TOKEN": ""],
                 "rfs: tokens file \(badLine), line 3: the token of 'bob' is refused: it has 5 characters; at least 16 are needed"),
                (["--tokens-file", badPermission], ["RFS_TOKEN": ""],
                 "rfs: tokens file \(badPermission), line 1: unknown permission 'exec' for 'alice' (expected a comma list of run, serve, info, admin)"),
                (["--tokens-file", open], ["RFS_TOKEN": ""], "rfs: tokens file \(open) is accessible by other users (mode 644); it holds secrets: run chmod 600 \(open)"),
                (["--tokens-file", good], ["RFS_TOKEN": TokenWorker.token("bob")], "rfs: --tokens-file cannot be used while RFS_TOKEN is set"),
                (["--tokens-file", good, "--token-file", shortFile], ["RFS_TOKEN": ""], "rfs: --tokens-file and --token-file cannot be used together"),
            ]
            for (arguments, environment, message) in cases {
                let result = try await rfs(["worker", "--listen", "127.0.0.1:0"] + arguments, environment: environment)
                #expect(result.status == 2, "\(arguments) \(environment)")
                #expect(result.stdout.isEmpty, "no worker listens")
                #expect(result.stderr.hasPrefix(message), "\(result.stderr)")
                #expect(result.stderr.split(separator: "\n").count == 1, "\(result.stderr)")
                #expect(!result.stderr.contains("short\n") && !result.stderr.contains("tiny-token"), "no token is quoted")
            }
        }

        @Test("the single RFS_TOKEN still works with every permission, as principal 'default'")
        func singleTokenHasEveryPermission() async throws {
            let token = TokenWorker.token("single")
            let cache = try Paths.temporaryDirectory()
            defer { try? FileManager.default.removeItem(at: cache) }
            let worker = try ChildProcess(
                ["worker", "--listen", "127.0.0.1:0", "--log-level", "info", "--cache-dir", cache.path, "--warm-hosts", "1"],
                environment: ["RFS_TOKEN": token])
            let url = try #require(await worker.nextLine()?.split(separator: " ").last.map(String.init))
            let serve = try ChildProcess(["serve", Paths.workspace, "--worker", url, "--id", "editor"], environment: ["RFS_TOKEN": token])
            #expect(try #require(await serve.nextLine()).contains("as connection id editor"))
            let run = try await rfs(
                ["run", "--worker", url, "--source", Paths.workspace, Paths.job("hello.py")], environment: ["RFS_TOKEN": token])
            #expect(run.status == 0)
            #expect(run.stdout == "hello from the worker\n")
            let info = try await rfs(["info", "--worker", url], environment: ["RFS_TOKEN": token])
            #expect(info.status == 0)
            serve.signal(SIGINT)
            #expect(await serve.result().status == 0)
            worker.signal(SIGTERM)
            let log = await worker.result()
            #expect(log.status == 0)
            #expect(log.stderr.split(separator: "\n").contains { $0.contains("principal=default") && $0.hasSuffix("] run") })
        }
    }
}

/// A worker started with a tokens file of six tokens (below), listening on a free loopback port
/// with its own cache folder; clients act as one of them by name.
final class TokenWorker: Sendable {
    static let permissions: [(name: String, permissions: String)] = [
        ("alice", "run,serve"), ("bob", "run,serve"), ("srv", "serve"), ("runner", "run"), ("viewer", "info"), ("ops", "admin"),
    ]

    /// The token of `name`: long enough, distinct per name.
    static func token(_ name: String) -> String { "\(name)-token-0123456789abcdef" }

    let url: String
    let process: ChildProcess
    let folder: URL
    /// Set by ``stop()``: ``remove()`` kills only a worker that was never stopped (a test that
    /// threw), never a process id that may have been reused since.
    private let stopped = Mutex(false)

    private init(url: String, process: ChildProcess, folder: URL) {
        self.url = url
        self.process = process
        self.folder = folder
    }

    static func start() async throws -> TokenWorker {
        let folder = try Paths.temporaryDirectory()
        let tokens = folder.appendingPathComponent("tokens").path
        let lines = Self.permissions.map { "\($0.name) \($0.permissions) \(Self.token($0.name))" }
        try (["# name permissions token"] + lines).joined(separator: "\n").write(toFile: tokens, atomically: true, encoding: .utf8)
        guard chmod(tokens, 0o600) == 0 else { throw TestFailure("chmod failed") }
        let process = try ChildProcess(
            ["worker", "--listen", "127.0.0.1:0", "--tokens-file", tokens, "--log-level", "info",
             "--cache-dir", folder.appendingPathComponent("cache").path, "--warm-hosts", "1"],
            environment: ["RFS_TOKEN": ""])
        guard let line = await process.nextLine(), let url = line.split(separator: " ").last.map(String.init), url.hasPrefix("ws://") else {
            let result = await process.result()
            throw TestFailure("worker did not start: status \(result.status), stderr: \(result.stderr)")
        }
        return TokenWorker(url: url, process: process, folder: folder)
    }

    /// `rfs ARGUMENTS` as token `name` (through RFS_TOKEN); `run` gets `--worker`.
    func rfs(_ arguments: [String], as name: String) async throws -> ChildProcess.Result {
        let arguments = arguments.first == "run" ? ["run", "--worker", url] + arguments.dropFirst() : arguments
        return try await RFSEndToEndTests.rfs(arguments, environment: ["RFS_TOKEN": Self.token(name)])
    }

    /// `rfs serve` of the workspace fixture as token `name`, claiming connection id `id`.
    func serve(id: String, as name: String) throws -> ChildProcess {
        try ChildProcess(["serve", Paths.workspace, "--worker", url, "--id", id], environment: ["RFS_TOKEN": Self.token(name)])
    }

    func stop() async -> ChildProcess.Result {
        stopped.withLock { $0 = true }
        process.signal(SIGTERM)
        return await process.result()
    }

    func remove() {
        if !stopped.withLock({ $0 }) { process.signal(SIGKILL) }
        try? FileManager.default.removeItem(at: folder)
    }
}
