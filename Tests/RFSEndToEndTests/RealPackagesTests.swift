import Foundation
import Testing

extension EndToEnd {
    /// Real PyPI packages served with `--source` to a worker that cannot see the client's disk
    /// (DESIGN.md §7): their data files, metadata and tracebacks behave as under plain local
    /// Python on the same files.
    @Suite(.timeLimit(.minutes(3)))
    struct RealPackagesTests {
        /// The worker hides the packages and the jobs' folder; its cache is a fresh folder.
        static func hiddenWorker(_ cache: URL, extraArguments: [String] = []) async throws -> TestWorker {
            try await TestWorker.start(
                extraArguments: ["--cache-dir", cache.path] + extraArguments,
                hiding: [Paths.pypiPackages, Paths.realJobs])
        }

        static func localPython(_ script: String, arguments: [String] = []) async throws -> ChildProcess.Result {
            let child = try ChildProcess(
                ["-s", "-B", script] + arguments, executable: Paths.localPython,
                environment: ["PYTHONPATH": Paths.pypiPackages])
            child.closeStdin()
            return await child.result()
        }

        @Test("the worker's namespace really hides the client's folders")
        func workerCannotSeeTheClientsDisk() async throws {
            let cache = try Paths.temporaryDirectory()
            defer { try? FileManager.default.removeItem(at: cache) }
            let worker = try await Self.hiddenWorker(cache)
            let paths = [Paths.pypiPackages + "/requests/__init__.py", Paths.realJob("real_packages.py"), cache.path]
            let remote = try await worker.run(Paths.realJob("exists.py"), sources: [], arguments: paths)
            _ = await worker.stop()
            #expect(remote.status == 0, "stderr: \(remote.stderr)")
            #expect(remote.stdout == "[False, False, True]\n")
        }

        @Test("requests, certifi, tzdata, jsonschema, pytz, attrs and pygments behave as under local Python")
        func realPackagesMatchLocalPython() async throws {
            let cache = try Paths.temporaryDirectory()
            defer { try? FileManager.default.removeItem(at: cache) }
            let local = try await Self.localPython(Paths.realJob("real_packages.py"))
            #expect(local.status == 0, "local stderr: \(local.stderr)")
            #expect(local.stdout.contains("helper beside the script imported"))

            let worker = try await Self.hiddenWorker(cache)
            let cold = try await worker.run(Paths.realJob("real_packages.py"), sources: [Paths.pypiPackages])
            let warm = try await worker.run(Paths.realJob("real_packages.py"), sources: [Paths.pypiPackages])
            _ = await worker.stop()
            #expect(cold.status == 0, "stderr: \(cold.stderr)")
            #expect(cold.stdout == local.stdout)
            #expect(warm.status == 0, "stderr: \(warm.stderr)")
            #expect(warm.stdout == local.stdout)
        }

        @Test("a private worker, too, gives what a remote one gives")
        func privateWorkerMatchesLocalPython() async throws {
            let local = try await Self.localPython(Paths.realJob("real_packages.py"))
            let result = try await rfs(["run", "--source", Paths.pypiPackages, Paths.realJob("real_packages.py")])
            #expect(result.status == 0, "stderr: \(result.stderr)")
            #expect(result.stdout == local.stdout)
        }

        @Test("the client's distribution wins over an older copy installed on the worker")
        func clientsMetadataFirst() async throws {
            let cache = try Paths.temporaryDirectory()
            defer { try? FileManager.default.removeItem(at: cache) }
            let installed = cache.appendingPathComponent("installed")
            let distInfo = installed.appendingPathComponent("attrs-20.1.0.dist-info")
            try FileManager.default.createDirectory(at: distInfo, withIntermediateDirectories: true)
            try FileManager.default.createDirectory(at: installed.appendingPathComponent("attr"), withIntermediateDirectories: true)
            try "Metadata-Version: 2.1\nName: attrs\nVersion: 20.1.0\n".write(
                to: distInfo.appendingPathComponent("METADATA"), atomically: true, encoding: .utf8)
            try "__version__ = '20.1.0'\n".write(
                to: installed.appendingPathComponent("attr/__init__.py"), atomically: true, encoding: .utf8)

            let worker = try await Self.hiddenWorker(cache, extraArguments: ["--python-path", installed.path])
            let workersOwn = try await worker.run(Paths.realJob("attrs_version.py"), sources: [])
            let clients = try await worker.run(Paths.realJob("attrs_version.py"), sources: [Paths.pypiPackages])
            _ = await worker.stop()
            #expect(workersOwn.stdout == "20.1.0 20.1.0\n", "stderr: \(workersOwn.stderr)")
            #expect(clients.stdout == "24.2.0 24.2.0\n", "stderr: \(clients.stderr)")
        }

        @Test("an import that needs a native extension fails naming the file that was not served")
        func nativeExtensionsAreNotServed() async throws {
            let cache = try Paths.temporaryDirectory()
            defer { try? FileManager.default.removeItem(at: cache) }
            let worker = try await Self.hiddenWorker(cache)
            let remote = try await worker.run(Paths.realJob("native.py"), sources: [Paths.pypiPackages])
            _ = await worker.stop()
            let local = try await rfs(["run", "--source", Paths.pypiPackages, Paths.realJob("native.py")])
            let file = Paths.pypiPackages + "/pvectorc.cpython-311-x86_64-linux-gnu.so"
            for result in [remote, local] {
                #expect(result.status == 1)
                #expect(result.stderr.contains("ModuleNotFoundError"), "stderr: \(result.stderr)")
                #expect(result.stderr.contains("\(file) is a native extension"), "stderr: \(result.stderr)")
            }
        }

        @Test("a traceback through a served package shows the client's paths and lines, and no import machinery")
        func tracebackThroughAPackage() async throws {
            let cache = try Paths.temporaryDirectory()
            defer { try? FileManager.default.removeItem(at: cache) }
            let worker = try await Self.hiddenWorker(cache)
            let result = try await worker.run(Paths.realJob("raises_in_package.py"), sources: [Paths.pypiPackages])
            _ = await worker.stop()
            #expect(result.status == 1)
            #expect(result.stderr.contains("File \"\(Paths.pypiPackages)/jsonschema/validators.py\", line"), "stderr: \(result.stderr)")
            #expect(result.stderr.contains("raise error"), "stderr: \(result.stderr)")
            #expect(result.stderr.contains("jsonschema.exceptions.ValidationError: 'x' is not of type 'integer'"))
            #expect(!result.stderr.contains("remote_file_source"), "stderr: \(result.stderr)")
            #expect(!result.stderr.contains("importlib._bootstrap"), "stderr: \(result.stderr)")
            #expect(!result.stderr.contains(cache.path), "stderr: \(result.stderr)")
        }
    }
}
