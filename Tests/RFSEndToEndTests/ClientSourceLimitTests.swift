import Foundation
import Testing

extension EndToEnd {
    /// What a worker may make the client read: a source file over `--max-file-size` is never read
    /// (the import fails naming the file, its size and the limit; the client's memory stays
    /// flat), and an undecodable one fails its import naming the file, the line and the encoding.
    /// Both paths: `fetch_module` (`--no-tree`) and the run's tree.
    @Suite(.timeLimit(.minutes(3)))
    struct ClientSourceLimitTests {
        /// A source folder holding `huge.py`, 1 GiB and sparse, and a script that imports it.
        struct HugeSource {
            let directory: URL
            let source: String
            let script: String

            init() throws {
                directory = try Paths.temporaryDirectory()
                source = directory.appendingPathComponent("src").path
                try FileManager.default.createDirectory(atPath: source, withIntermediateDirectories: true)
                FileManager.default.createFile(atPath: source + "/huge.py", contents: nil)
                guard truncate(source + "/huge.py", 1 << 30) == 0 else { throw TestFailure("truncate failed: errno \(errno)") }
                try "SMALL = 1\n".write(toFile: source + "/small.py", atomically: true, encoding: .utf8)
                // The script stays alive after the import so that the client's peak memory can be
                // read while its process exists; Ctrl-C ends it.
                script = directory.appendingPathComponent("job.py").path
                try """
                    import time
                    import small
                    try:
                        import huge
                    except ImportError as error:
                        print('ImportError:', error, flush=True)
                    print('waiting', flush=True)
                    time.sleep(600)
                    """.write(toFile: script, atomically: true, encoding: .utf8)
            }

            func remove() { try? FileManager.default.removeItem(at: directory) }
        }

        @Test(
            "importing a 1 GiB module fails naming the file, its size and --max-file-size; the client never reads it",
            arguments: [["--no-tree"], []])
        func hugeModule(options: [String]) async throws {
            let huge = try HugeSource()
            defer { huge.remove() }
            let worker = try await TestWorker.start()
            let run = try ChildProcess(
                ["run", "--worker", worker.url, "--token-file", worker.tokenFile.path, "--source", huge.source] + options + [huge.script])
            run.closeStdin()
            let line = try #require(await run.waitForLine(containing: "ImportError:"))
            #expect(await run.waitForLine(containing: "waiting") != nil)
            let peak = try #require(Processes.peakResidentBytes(run.pid))
            run.signal(SIGINT)
            let result = await run.result()
            _ = await worker.stop()

            #expect(line.contains(huge.source + "/huge.py"), "\(line)")
            #expect(line.contains("1073741824 bytes"), "\(line)")
            #expect(line.contains("--max-file-size"), "\(line)")
            if options == ["--no-tree"] {
                #expect(line == "ImportError: cannot import \(huge.source)/huge.py: 1073741824 bytes (1 GiB) is over the per-file limit of 33554432 bytes (32 MiB); raise --max-file-size to serve it")
            }
            // Reading the file whole would take over a gigabyte; a debug client peaks near 40 MB.
            #expect(peak < 200 << 20, "client peak RSS \(peak >> 20) MiB")
            print("client peak RSS with a 1 GiB module (\(options)): \(peak >> 20) MiB")
            #expect(result.status == 130, "stderr: \(result.stderr)")
        }

        @Test("--max-file-size sets the limit: a module just over it is refused, the rest imports")
        func customLimit() async throws {
            let directory = try Paths.temporaryDirectory()
            defer { try? FileManager.default.removeItem(at: directory) }
            let source = directory.appendingPathComponent("src").path
            try FileManager.default.createDirectory(atPath: source, withIntermediateDirectories: true)
            try (String(repeating: "#", count: 2047) + "\nBIG = 1\n").write(toFile: source + "/big.py", atomically: true, encoding: .utf8)
            try "SMALL = 1\n".write(toFile: source + "/small.py", atomically: true, encoding: .utf8)
            let script = try Script("import small\nprint('small', small.SMALL, flush=True)\nimport big\n")
            defer { script.remove() }
            let worker = try await TestWorker.start()
            let result = try await worker.run(script.path, sources: [source], options: ["--no-tree", "--max-file-size", "2K"])
            _ = await worker.stop()
            #expect(result.status == 1)
            #expect(result.stdout == "small 1\n")
            #expect(result.stderr.contains(
                "ImportError: cannot import \(source)/big.py: 2056 bytes (2 KiB) is over the per-file limit of 2048 bytes (2 KiB); raise --max-file-size to serve it"),
                "\(result.stderr)")
        }

        @Test(
            "an undecodable module is an ImportError naming the file, the line and the encoding (fetch), a SyntaxError with file and line (tree)",
            arguments: [["--no-tree"], []])
        func undecodable(options: [String]) async throws {
            let directory = try Paths.temporaryDirectory()
            defer { try? FileManager.default.removeItem(at: directory) }
            let source = directory.appendingPathComponent("src").path
            try FileManager.default.createDirectory(atPath: source, withIntermediateDirectories: true)
            try Data(Array("a = 1\nb = 2\nc = '".utf8) + [0xFF] + Array("'\n".utf8)).write(to: URL(fileURLWithPath: source + "/bad.py"))
            let script = try Script("import bad\n")
            defer { script.remove() }
            let worker = try await TestWorker.start()
            let result = try await worker.run(script.path, sources: [source], options: options)
            _ = await worker.stop()
            #expect(result.status == 1)
            #expect(!result.stderr.contains("Internal error") && !result.stderr.contains("-32603"), "\(result.stderr)")
            let last = result.stderr.split(separator: "\n").last.map(String.init) ?? ""
            if options == ["--no-tree"] {
                #expect(last == "ImportError: cannot decode \(source)/bad.py: line 3 is not valid utf-8 (byte 0xff at column 6: invalid start byte)", "\(result.stderr)")
            } else {
                // Python itself compiles the materialized file: its SyntaxError names the client's
                // file and the line, as plain `python` would.
                #expect(last.hasPrefix("SyntaxError:") && last.contains("can't decode byte 0xff"), "\(result.stderr)")
                #expect(result.stderr.contains("\(source)/bad.py\", line 3"), "\(result.stderr)")
            }
        }
    }
}
