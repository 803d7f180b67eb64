#if Deephaven
import Foundation
import RFSTestSupport
import Testing

extension EndToEnd {
    /// `rfs run|serve|info --deephaven` against a real deephaven-server 42.7 with the reference
    /// plugin 0.1.5 (DESIGN.md §8). Serialized: each test starts its own JVM, and two cores do
    /// not need several at once.
    @Suite(.serialized, .timeLimit(.minutes(5)))
    struct DeephavenServerTests {
        /// The client's folders: relative and absolute imports, a namespace package, a module
        /// that raises, and scripts using them.
        static func makeProject() throws -> TemporaryTree {
            let tree = try TemporaryTree()
            try tree.write("src/rel_pkg/__init__.py", "from .utils.constants import GREETING\nfrom .utils import shout\n")
            try tree.write("src/rel_pkg/utils/__init__.py", "from .constants import GREETING\n\ndef shout(text):\n    return text.upper() + '!'\n")
            try tree.write("src/rel_pkg/utils/constants.py", "GREETING = 'hello from rel_pkg'\n")
            try tree.write("src/abs_pkg/__init__.py", "import abs_pkg.inner\nVALUE = abs_pkg.inner.VALUE * 2\n")
            try tree.write("src/abs_pkg/inner.py", "VALUE = 21\n")
            try tree.write("src/ns_pkg/part/mod.py", "NAME = 'namespace ok'\n")
            try tree.write("src/failing.py", "def explode():\n    raise ValueError('exploded on purpose')\n")
            try tree.write(
                "jobs/imports.py",
                """
                import sys
                import rel_pkg, abs_pkg
                from ns_pkg.part import mod
                print(rel_pkg.GREETING, rel_pkg.shout('hi'), abs_pkg.VALUE, mod.NAME, sys.argv[1:])
                print('to stderr', file=sys.stderr)
                """)
            try tree.write("jobs/missing.py", "import no_such_module_anywhere\n")
            try tree.write("jobs/raises.py", "import failing\n\nfailing.explode()\n")
            try tree.write("jobs/exit3.py", "import sys\nprint('before exit')\nsys.exit(3)\n")
            try tree.write("jobs/exit0.py", "raise SystemExit(0)\n")
            try tree.write("jobs/blocks.py", "import time\nprint('blocking now', flush=True)\ntime.sleep(600)\n")
            return tree
        }

        /// Runs `probe/probe.py` as another client with no sources of its own: its imports of the
        /// served names go to the `rfs serve` session's plugin object.
        static func runProbe(_ project: TemporaryTree, on server: DeephavenTestServer) async throws -> ChildProcess.Result {
            try await rfs(
                ["run", project.path("probe/probe.py"), "--no-script-dir", "--deephaven", server.url], environment: server.environment)
        }

        @Test("run: relative and absolute imports and a namespace package; stdout and stderr; exit statuses as python's; tracebacks with the client's paths")
        func runScripts() async throws {
            let project = try Self.makeProject()
            try await DeephavenTestServer.with { server in
                func run(_ job: String, _ extra: [String] = []) async throws -> ChildProcess.Result {
                    try await rfs(
                        ["run", project.path("jobs/\(job)"), "--source", project.path("src"), "--deephaven", server.url] + extra,
                        environment: server.environment)
                }
                let imports = try await run("imports.py", ["--", "a", "b"])
                #expect(imports.status == 0, "\(imports.stderr)")
                #expect(imports.stdout == "hello from rel_pkg HI! 42 namespace ok ['a', 'b']\n")
                #expect(imports.stderr == "to stderr\n")

                let missing = try await run("missing.py")
                #expect(missing.status == 1)
                #expect(missing.stderr.contains("ModuleNotFoundError: No module named 'no_such_module_anywhere'"))

                let raises = try await run("raises.py")
                #expect(raises.status == 1)
                #expect(raises.stderr.hasPrefix("Traceback (most recent call last):\n"), "\(raises.stderr)")
                #expect(raises.stderr.contains("File \"\(project.path("jobs/raises.py"))\", line 3, in <module>"))
                #expect(raises.stderr.contains("File \"\(project.path("src/failing.py"))\", line 2, in explode"))
                #expect(raises.stderr.hasSuffix("ValueError: exploded on purpose\n"))
                #expect(!raises.stderr.contains("java."), "no Java frames: \(raises.stderr)")
                #expect(!raises.stderr.contains("_rfs_run"), "no frame of our wrapper")

                let exit3 = try await run("exit3.py")
                #expect(exit3.status == 3)
                #expect(exit3.stdout == "before exit\n")
                #expect(exit3.stderr == "")

                let exit0 = try await run("exit0.py")
                #expect(exit0.status == 0)
                #expect(exit0.stderr == "")

                // Output streams while the script runs; Ctrl-C exits 130 at once and says the
                // script goes on (Deephaven has no CancelCommand). Last: it keeps the console busy.
                let blocking = try ChildProcess(
                    ["run", project.path("jobs/blocks.py"), "--deephaven", server.url], environment: server.environment)
                _ = try #require(await blocking.waitForLine(containing: "blocking now"))
                blocking.signal(SIGINT)
                let interrupted = await blocking.result()
                #expect(interrupted.status == 130)
                #expect(
                    interrupted.stderr
                        == "rfs: interrupted; the Deephaven server cannot cancel a running command, so \(project.path("jobs/blocks.py")) may still be running there\n")
            }
        }

        @Test("a wrong pre-shared key and an unreachable server are exit 2 with one line naming the server")
        func refusals() async throws {
            let project = try Self.makeProject()
            try await DeephavenTestServer.with { server in
                let wrong = try await rfs(
                    ["run", project.path("jobs/exit0.py"), "--deephaven", server.url], environment: ["DEEPHAVEN_PSK": "not-the-key"])
                #expect(wrong.status == 2)
                #expect(wrong.stderr == "rfs: the Deephaven server at \(server.url) refused the pre-shared key (check DEEPHAVEN_PSK or --psk-file)\n")
                let keyFile = project.path("psk")
                try project.write("psk", DeephavenTestServer.psk + "\n")
                let fromFile = try await rfs(["run", project.path("jobs/exit3.py"), "--deephaven", server.url, "--psk-file", keyFile])
                #expect(fromFile.status == 3, "--psk-file is read and trimmed: \(fromFile.stderr)")
            }
            let unreachable = try await rfs(
                ["run", project.path("jobs/exit0.py"), "--deephaven", "http://127.0.0.1:1"], environment: ["DEEPHAVEN_PSK": "k"])
            #expect(unreachable.status == 2)
            #expect(unreachable.stderr.hasPrefix("rfs: cannot reach the Deephaven server at http://127.0.0.1:1: "))
        }

        @Test("serve: code run in the server's console imports from DIR; info lists our plugin object; Ctrl-C removes it")
        func serveFeedsTheConsole() async throws {
            let project = try Self.makeProject()
            try project.write("probe/probe.py", "import abs_pkg, rel_pkg\nprint('probe', abs_pkg.VALUE, rel_pkg.GREETING)\n")
            try await DeephavenTestServer.with { server in
                let serve = try ChildProcess(["serve", project.path("src"), "--deephaven", server.url], environment: server.environment)
                let banner = try #require(await serve.waitForLine(containing: "rfs serve: serving"))
                #expect(banner.contains("to the Deephaven server at \(server.url)"))
                #expect(banner.contains("top-level names: abs_pkg, failing, ns_pkg, rel_pkg"))
                let variable = try #require(banner.firstMatch(of: /plugin variable (__rfs_plugin_[0-9a-f]+)/)?.1)

                // A run of another client with no sources of its own: the console's imports of
                // DIR's names go to the serve session's plugin object.
                let probe = try await Self.runProbe(project, on: server)
                #expect(probe.status == 0, "\(probe.stderr)")
                #expect(probe.stdout == "probe 42 hello from rel_pkg\n")

                let info = try await rfs(["info", "--deephaven", server.url], environment: server.environment)
                #expect(info.status == 0, "\(info.stderr)")
                #expect(info.stdout.contains("plugin: installed (deephaven-plugin-python-remote-file-source 0.1.5)"))
                #expect(info.stdout.contains("\(variable): connection id "))
                #expect(info.stdout.contains("names: abs_pkg, failing, ns_pkg, rel_pkg"))

                serve.signal(SIGINT)
                let served = await serve.result()
                #expect(served.status == 0)
                #expect(served.stderr.contains("module=abs_pkg.inner"), "each fetch is logged")
                let after = try await rfs(["info", "--deephaven", server.url, "--json"], environment: server.environment)
                #expect(after.status == 0)
                #expect(!after.stdout.contains(String(variable)), "Ctrl-C removed our plugin object: \(after.stdout)")
                #expect(after.stdout.contains("\"plugin_installed\":true"))
            }
        }

        @Test("a server whose Python lacks the plugin is named as such, for run, serve and info")
        func pluginMissing() async throws {
            let project = try Self.makeProject()
            try await DeephavenTestServer.with(plugin: false) { server in
                let run = try await rfs(
                    ["run", project.path("jobs/exit0.py"), "--source", project.path("src"), "--deephaven", server.url],
                    environment: server.environment)
                #expect(run.status == 2)
                #expect(run.stderr.hasPrefix("rfs: the Deephaven server at \(server.url) does not have the remote-file-source plugin installed"))
                #expect(run.stderr.contains("No module named 'deephaven.python_remote_file_source'"))
                let serve = try await rfs(["serve", project.path("src"), "--deephaven", server.url], environment: server.environment)
                #expect(serve.status == 2)
                #expect(serve.stderr.contains("does not have the remote-file-source plugin installed"))
                let info = try await rfs(["info", "--deephaven", server.url], environment: server.environment)
                #expect(info.status == 0)
                #expect(info.stdout.contains("plugin: not installed (No module named 'deephaven.python_remote_file_source')"))
            }
        }

        @Test("serve keeps its Deephaven session alive past the server's session length (token rotation included)")
        func sessionKeptAlive() async throws {
            let project = try Self.makeProject()
            try project.write("probe/probe.py", "import abs_pkg\nprint('still served', abs_pkg.VALUE)\n")
            try await DeephavenTestServer.with(sessionMillis: 10_000) { server in
                let serve = try ChildProcess(
                    ["serve", project.path("src"), "--deephaven", server.url, "--log-level", "debug"], environment: server.environment)
                _ = try #require(await serve.waitForLine(containing: "rfs serve: serving"))
                // Keepalives come every third of the session: four of them span more than a
                // whole session length of 10 s (Deephaven refuses less).
                for _ in 0..<4 {
                    _ = try #require(await serve.waitForStderrLine(containing: "Deephaven session kept alive"))
                }
                let probe = try await Self.runProbe(project, on: server)
                #expect(probe.status == 0, "\(probe.stderr)")
                #expect(probe.stdout == "still served 42\n")
                serve.signal(SIGINT)
                let served = await serve.result()
                #expect(served.status == 0)
                #expect(!served.stderr.contains("lost the Deephaven server"), "the first session lasted: \(served.stderr)")
                #expect(served.stdout.components(separatedBy: "rfs serve: ").count == 2, "attached once: \(served.stdout)")
                #expect(served.stderr.contains("module=abs_pkg"))
            }
        }

        @Test("serve reconnects, with a log line, when the server restarts under it")
        func serveSurvivesARestart() async throws {
            let project = try Self.makeProject()
            try project.write("probe/probe.py", "import rel_pkg\nprint('after restart', rel_pkg.GREETING)\n")
            try await DeephavenTestServer.with { server in
                let serve = try ChildProcess(["serve", project.path("src"), "--deephaven", server.url], environment: server.environment)
                _ = try #require(await serve.waitForLine(containing: "rfs serve: serving"))
                let restarted = try await server.restart()
                #expect(restarted.url == server.url)
                let again = try #require(await serve.waitForLine(containing: "rfs serve: reconnected; serving"))
                #expect(again.contains(server.url))
                let probe = try await Self.runProbe(project, on: server)
                #expect(probe.status == 0, "\(probe.stderr)")
                #expect(probe.stdout == "after restart hello from rel_pkg\n")
                serve.signal(SIGINT)
                let served = await serve.result()
                #expect(served.status == 0)
                #expect(served.stderr.contains("lost the Deephaven server; reconnecting"))
            }
        }
    }
}
#endif  // Deephaven
