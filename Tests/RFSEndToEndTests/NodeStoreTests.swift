import Foundation
import Testing

extension EndToEnd {
    /// The worker node's store (DESIGN.md §7): a module crosses the wire and compiles once per
    /// node; an edit on the client sends and compiles that file again, and nothing else.
    @Suite(.timeLimit(.minutes(2)))
    struct NodeStoreTests {
        static func write(_ files: [String: String], under folder: URL) throws {
            for (path, text) in files {
                let url = folder.appendingPathComponent(path)
                try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
                try text.write(to: url, atomically: false, encoding: .utf8)
            }
        }

        /// The job prints its values, then what the run's tree cost (`tree.run_stats()`).
        static let job = """
            import os, sys
            import edited_pkg
            from remote_file_source import tree
            assert edited_pkg.b.__file__.startswith(sys.argv[1] + "/runs/"), edited_pkg.b.__file__
            assert os.path.isfile(edited_pkg.b.__file__)
            print(edited_pkg.a.VALUE, edited_pkg.b.VALUE)
            stats = tree.run_stats()
            print("received", stats["blobs_received"], "loaded", stats["compiled"] + stats["code_cache_hits"])
            print("compiled here", stats["compiled"])

            """

        @Test("a second run receives and compiles nothing; after an edit only the edited file crosses and compiles")
        func editBetweenRuns() async throws {
            let folder = try Paths.temporaryDirectory()
            defer { try? FileManager.default.removeItem(at: folder) }
            let client = folder.appendingPathComponent("client")
            try Self.write(
                [
                    "edited_pkg/__init__.py": "from . import a, b\n",
                    "edited_pkg/a.py": "VALUE = 'a1'\n",
                    "edited_pkg/b.py": "VALUE = 'b1'\n",
                    "job.py": Self.job,
                ], under: client)
            let cache = folder.appendingPathComponent("cache").path
            let worker = try await TestWorker.start(extraArguments: ["--cache-dir", cache], hiding: [client.path])
            let job = client.appendingPathComponent("job.py").path
            let cold = try await worker.run(job, sources: [], arguments: [cache])
            let warm = try await worker.run(job, sources: [], arguments: [cache])
            try Self.write(["edited_pkg/b.py": "VALUE = 'b2'  # edited\n"], under: client)
            let edited = try await worker.run(job, sources: [], arguments: [cache])
            _ = await worker.stop()
            // The runs' trees are gone with their hosts; the store keeps the files.
            #expect(try FileManager.default.contentsOfDirectory(atPath: cache + "/runs") == [])
            #expect(try !FileManager.default.subpathsOfDirectory(atPath: cache + "/store/blobs").isEmpty)

            // Cold: the package's `__init__` was asked for (and compiled here); a and b came with it
            // and were compiled here or, ahead of their import, by the host's compile helper.
            #expect(cold.stdout.hasPrefix("a1 b1\nreceived 3 loaded 3\ncompiled here "), "stderr: \(cold.stderr)")
            #expect(warm.stdout == "a1 b1\nreceived 0 loaded 3\ncompiled here 0\n", "stderr: \(warm.stderr)")
            #expect(edited.stdout == "a1 b2\nreceived 1 loaded 3\ncompiled here 1\n", "stderr: \(edited.stderr)")
        }

        @Test("two clients with different versions of a same-named package, at once, each get their own")
        func twoClientsTwoVersions() async throws {
            let folder = try Paths.temporaryDirectory()
            defer { try? FileManager.default.removeItem(at: folder) }
            for version in ["1", "2"] {
                try Self.write(
                    [
                        "samename/__init__.py": "from . import common\nVERSION = '\(version)'\n",
                        // The same bytes in both: the two runs may write one blob at the same time.
                        "samename/common.py": "SHARED = 'same in both clients'\n",
                        "samename/data.txt": "data of version \(version)\n",
                        "samename-\(version).0.dist-info/METADATA": "Metadata-Version: 2.1\nName: samename\nVersion: \(version).0\n",
                    ], under: folder.appendingPathComponent("v\(version)"))
            }
            try Self.write(
                [
                    "versions.py": """
                        import importlib.metadata, importlib.resources
                        import samename
                        print(samename.VERSION, importlib.metadata.version("samename"), samename.common.SHARED,
                              importlib.resources.files("samename").joinpath("data.txt").read_text().strip())

                        """
                ], under: folder.appendingPathComponent("jobs"))
            let worker = try await TestWorker.start(
                extraArguments: ["--cache-dir", folder.appendingPathComponent("cache").path],
                hiding: [folder.appendingPathComponent("v1").path, folder.appendingPathComponent("v2").path])
            let job = folder.appendingPathComponent("jobs/versions.py").path
            async let first = worker.run(job, sources: [folder.appendingPathComponent("v1").path])
            async let second = worker.run(job, sources: [folder.appendingPathComponent("v2").path])
            let (one, two) = try await (first, second)
            _ = await worker.stop()
            #expect(one.stdout == "1 1.0 same in both clients data of version 1\n", "stderr: \(one.stderr)")
            #expect(two.stdout == "2 2.0 same in both clients data of version 2\n", "stderr: \(two.stderr)")
        }

        /// The `tree served` line `rfs run --log-level info` ends with, as numbers.
        static func served(_ stderr: String) -> [String: Int]? {
            guard let line = stderr.split(separator: "\n").last(where: { $0.hasSuffix("tree served") }) else { return nil }
            var fields: [String: Int] = [:]
            for item in line.split(separator: " ") {
                let parts = item.split(separator: "=", maxSplits: 1)
                if parts.count == 2, let value = Int(parts[1]) { fields[String(parts[0])] = value }
            }
            return fields
        }

        @Test("a cold run's imports cost one round trip (the first reply carries the script's import closure); a warm run's none")
        func coldRunRoundTrips() async throws {
            let folder = try Paths.temporaryDirectory()
            defer { try? FileManager.default.removeItem(at: folder) }
            let worker = try await TestWorker.start(
                extraArguments: ["--cache-dir", folder.path], hiding: [Paths.workspace])
            let options = ["--log-level", "info"]
            let cold = try await worker.run(Paths.job("imports_all.py"), sources: [Paths.workspace], options: options)
            let warm = try await worker.run(Paths.job("imports_all.py"), sources: [Paths.workspace], options: options)
            _ = await worker.stop()
            #expect(cold.status == 0 && warm.status == 0, "stderr: \(cold.stderr)\n\(warm.stderr)")
            #expect(cold.stdout == warm.stdout)
            let coldServed = try #require(Self.served(cold.stderr), "stderr: \(cold.stderr)")
            let warmServed = try #require(Self.served(warm.stderr), "stderr: \(warm.stderr)")
            #expect(coldServed["requests"] == 1, "\(coldServed)")
            #expect((coldServed["files"] ?? 0) >= 15 && coldServed["prefetched"] == (coldServed["files"] ?? 0) - 1, "\(coldServed)")
            #expect(warmServed["requests"] == 0 && warmServed["bytes"] == 0, "\(warmServed)")
        }
    }
}
