import Foundation
import Testing

extension EndToEnd {
    /// `rfs run` end to end, with real processes on loopback: the client serves fixtures/workspace
    /// and the worker imports from it (DESIGN.md §3 "Import semantics the worker guarantees").
    @Suite(.timeLimit(.minutes(2)))
    struct RemoteImportTests {
        @Test("every kind of module imports from the client on a private local worker")
        func importsEverything() async throws {
            let result = try await rfs(["run", "--source", Paths.workspace, Paths.job("imports_all.py")])
            #expect(result.status == 0, "stderr: \(result.stderr)")
            #expect(
                result.stdout == """
                    relative 27
                    deeper pkg_relative.sub.deeper.bottom 15
                    absolute 6 42
                    namespace ns_pkg.part ns_pkg.part+inner None
                    latin1 café
                    toplevel hello, world
                    file True True
                    source def greet(name="world"):

                    """)
        }

        @Test("without a tree (--no-tree), a package's modules travel with its fetch_module reply; --no-prefetch asks for each, with the same result")
        func prefetching() async throws {
            func fetchedNames(_ stderr: String) -> [String] {
                stderr.split(separator: "\n").filter { $0.hasSuffix("] fetch") }.compactMap { line in
                    line.split(separator: " ").first { $0.hasPrefix("module=") }.map { String($0.dropFirst("module=".count)) }
                }
            }
            let arguments = ["run", "--no-tree", "--log-level", "info", "--source", Paths.workspace, Paths.job("imports_all.py")]
            let prefetched = try await rfs(arguments)
            let single = try await rfs(arguments + ["--no-prefetch"])
            #expect(prefetched.status == 0 && single.status == 0, "stderr: \(prefetched.stderr)\n\(single.stderr)")
            #expect(prefetched.stdout == single.stdout)

            let below = ["pkg_relative.helpers", "pkg_relative.sub", "pkg_relative.sub.leaf", "pkg_relative.sub.deeper"]
            #expect(fetchedNames(prefetched.stderr).contains("pkg_relative"))
            #expect(Set(fetchedNames(prefetched.stderr)).isDisjoint(with: below), "stderr: \(prefetched.stderr)")
            #expect(Set(below).isSubset(of: fetchedNames(single.stderr)), "stderr: \(single.stderr)")
            #expect(prefetched.stderr.contains("prefetched=5"))
        }

        @Test("a syntax error exits 1 with the client path, line and source in the traceback")
        func syntaxError() async throws {
            let result = try await rfs(["run", "--source", Paths.workspace, Paths.job("syntax_error.py")])
            #expect(result.status == 1)
            #expect(result.stderr.contains("\(Paths.workspace)/bad_syntax.py\", line 4"))
            #expect(result.stderr.contains("return (1,"))
            #expect(result.stderr.contains("SyntaxError"))
        }

        @Test("a module raising on import exits 1 with the client path and source line")
        func raisesOnImport() async throws {
            let result = try await rfs(["run", "--source", Paths.workspace, Paths.job("raises.py")])
            #expect(result.status == 1)
            #expect(result.stderr.contains("\(Paths.workspace)/raises_on_import.py\", line 4"))
            #expect(result.stderr.contains("raise RuntimeError(\"boom from fixture\")"))
            #expect(result.stderr.contains("RuntimeError: boom from fixture"))
        }

        @Test("sys.exit(3) exits 3 after its output")
        func exitCode() async throws {
            let result = try await rfs(["run", "--source", Paths.workspace, Paths.job("exit3.py")])
            #expect(result.status == 3)
            #expect(result.stdout == "leaving with 3\n")
        }

        @Test("a missing module is a ModuleNotFoundError")
        func missingModule() async throws {
            let result = try await rfs(["run", "--source", Paths.workspace, Paths.job("missing.py")])
            #expect(result.status == 1)
            #expect(result.stderr.contains("ModuleNotFoundError: No module named 'module_that_exists_nowhere'"))
        }

        @Test("script arguments after -- become sys.argv[1:], and __name__ is __main__")
        func scriptArguments() async throws {
            let result = try await rfs(["run", "--source", Paths.workspace, Paths.job("argv.py"), "--", "a", "--b"])
            #expect(result.status == 0, "stderr: \(result.stderr)")
            #expect(result.stdout == "__main__ ['a', '--b'] True\n")
        }

        @Test("an edit between runs is picked up by the next run", arguments: ["run", "session", "shared"])
        func editBetweenRuns(isolation: String) async throws {
            let folder = try Paths.temporaryDirectory()
            defer { try? FileManager.default.removeItem(at: folder) }
            let module = folder.appendingPathComponent("editable.py")
            try "VALUE = 1\n".write(to: module, atomically: true, encoding: .utf8)
            let worker = try await TestWorker.start(extraArguments: ["--isolation", isolation])
            let first = try await worker.run(Paths.job("edit_value.py"), sources: [folder.path])
            #expect(first.stdout == "1\n", "stderr: \(first.stderr)")
            try "VALUE = 2\n".write(to: module, atomically: true, encoding: .utf8)
            let second = try await worker.run(Paths.job("edit_value.py"), sources: [folder.path])
            #expect(second.stdout == "2\n", "stderr: \(second.stderr)")
            _ = await worker.stop()
        }

        @Test("a missing --source folder exits 2 with one line naming it")
        func missingSource() async throws {
            let result = try await rfs(["run", "--source", "/nonexistent/rfs-src", Paths.job("hello.py")])
            #expect(result.status == 2)
            #expect(result.stderr.contains("/nonexistent/rfs-src"))
            #expect(result.stderr.split(separator: "\n").count == 1)
            #expect(result.stdout.isEmpty)
        }

        @Test("rfs info reports the names of the worker's current context")
        func info() async throws {
            let worker = try await TestWorker.start()
            _ = try await worker.run(Paths.job("hello.py"), sources: [Paths.workspaceB])
            let result = try await rfs(["info", "--worker", worker.url, "--token-file", worker.tokenFile.path, "--json"])
            #expect(result.status == 0, "stderr: \(result.stderr)")
            // The workspace's name, and those of the script's folder (importable, as with `python job.py`).
            let jobs = try FileManager.default.contentsOfDirectory(atPath: Paths.jobs.path).filter { $0.hasSuffix(".py") }
            let expected = (jobs.map { String($0.dropLast(3)) } + ["shared_name"]).sorted()
            #expect(result.stdout == "[" + expected.map { "\"\($0)\"" }.joined(separator: ",") + "]\n")
            _ = await worker.stop()
        }
    }
}
