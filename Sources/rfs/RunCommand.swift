import ArgumentParser
import Foundation
import Logging
import NIOPosix
import RFSClient
import RFSManifest
import RFSModuleIndex
import RFSWire
import UnixSignals

/// `rfs run`: run a local script on a worker, with imports served from local folders.
struct RunCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run SCRIPT on a worker; its imports come from the --source folders.",
        discussion: """
            Without --worker, rfs starts a private worker on this machine and stops it afterwards. \
            Exit status: as `python SCRIPT` would exit: 0, the script's sys.exit status, 1 on an \
            uncaught exception (traceback on stderr), the os._exit status, 128+N when signal N \
            ended the run's process (one line on stderr names it), 130 on Ctrl-C; 2 when the \
            worker cannot be reached or refuses, or stops answering (no reply to keepalive pings \
            for --pong-timeout; one line on stderr names the worker). With --deephaven URL the \
            script runs in a fresh console of that Deephaven server, importing from the --source \
            folders through its remote-file-source plugin; Ctrl-C then exits 130 at once, and the \
            script may go on running there (Deephaven cannot cancel a running command).
            """
    )

    @Option(help: "Worker URL, e.g. wss://host:8710 (default: a private local worker).")
    var worker: String?

    @OptionGroup var deephaven: DeephavenOptions

    @Option(name: .customLong("source"), help: "Folder whose modules the script may import (repeatable, searched in order).")
    var sources: [String] = []

    @Option(name: .customLong("exclude"), help: "Glob of paths not to serve (repeatable).")
    var excludes: [String] = []

    @Flag(name: .customLong("no-script-dir"), help: "Do not let the script import from its own folder (when the worker takes a manifest).")
    var noScriptDirectory = false

    @Flag(
        name: .customLong("no-tree"),
        help: "Send no manifest: modules are served one fetch_module at a time, as to the reference plugin (no data files, metadata or node store).")
    var noTree = false

    @Option(
        name: .customLong("max-tree-size"),
        help: "Most bytes of files the run's tree may hold (K, M, G suffixes).")
    var maxTreeSize: ByteSize = ByteSize(bytes: ManifestBuilder.defaultMaxTreeBytes)

    @Argument(help: "The Python script to run.")
    var script: String

    @Argument(parsing: .postTerminator, help: "Arguments for the script, after --.")
    var scriptArguments: [String] = []

    @OptionGroup var connection: WorkerConnectionOptions
    @OptionGroup var fileSize: FileSizeOptions
    @OptionGroup var prefetch: PrefetchOptions
    @OptionGroup var logging: LoggingOptions

    func validate() throws {
        try deephaven.validate(worker: worker, workerOptional: true)
    }

    func run() async throws {
        let logger = logging.bootstrap(default: .warning)
        if deephaven.url != nil { return try await runOnDeephaven(logger: logger) }
        // The private worker (and the run host it starts at once) come up while we read the
        // sources and the script: starting an interpreter is the longest step of a local run.
        let starting: Task<ChildWorker, any Error>? =
            worker != nil
            ? nil
            : Task {
                try await ChildWorker.start(
                    executable: Executable.path, extraArguments: ["--log-level", "\(logger.logLevel)"], logger: logger)
            }
        func abandonChild() async {
            if let child = try? await starting?.value { await child.stop() }
        }
        let sourceSet: SourceSet
        let names: [String]
        let scriptPath = URL(fileURLWithPath: script).standardizedFileURL.path
        let code: String
        do {
            sourceSet = try SourceSet(directories: sources, excludes: excludes, maxFileBytes: fileSize.maxFileSize.bytes)
            names = try sourceSet.topLevelNames()
            code = try ScriptSource.read(scriptPath)
        } catch {
            await abandonChild()
            throw Console.fail("\(error)")
        }

        var child: ChildWorker?
        let endpoint: WorkerEndpoint
        do {
            if let starting {
                child = try await starting.value
                var local = child!.endpoint
                connection.keepalive.apply(to: &local)
                endpoint = local
            } else {
                endpoint = try connection.endpoint(url: worker!)
            }
        } catch {
            throw Console.fail("\(error)")
        }

        let result: RunOutcome
        do {
            result = try await execute(
                code: code, scriptPath: scriptPath, names: names, sources: sourceSet, endpoint: endpoint, logger: logger)
        } catch {
            await child?.stop()
            throw Console.fail(WorkerRefusal.describe(error, worker: endpoint.url))
        }
        await child?.stop()
        if case .finished(.exception(let exception)) = result {
            let traceback = exception.traceback
            Console.write(traceback.hasSuffix("\n") ? traceback : traceback + "\n", to: .standardError)
        }
        if let diagnostic = result.diagnostic {
            Console.write("rfs: \(diagnostic)\n", to: .standardError)
        }
        if result.exitStatus != 0 { throw ExitCode(result.exitStatus) }
    }

    private func execute(
        code: String, scriptPath: String, names: [String], sources: SourceSet, endpoint: WorkerEndpoint, logger: Logger
    ) async throws -> RunOutcome {
        let session = try await ClientSession.connect(to: endpoint, logger: logger)
        await session.serve(sources, prefetch: prefetch.limits)
        let output = OutputWriter()
        await session.onOutput { stream, text in await output.write(stream, text) }
        let connectionID = UUID().uuidString.lowercased()
        try await session.setConnectionID(connectionID)
        let argv = [scriptPath] + scriptArguments
        var tree: TreeManifest?
        var served: TreeSnapshot?
        var names = names
        if session.treeOffered != nil, !noTree {
            let snapshot = try await buildSnapshot(
                id: session.nextSnapshotID(), scriptPath: scriptPath, code: code, sources: sources, logger: logger)
            await session.serveTree(snapshot)
            tree = snapshot.built.manifest
            served = snapshot
            // The script's folder is importable, as with `python job.py`: its names join the context.
            var seen = Set(names)
            for root in snapshot.built.manifest.roots {
                if root.kind == .script { names += root.topLevelNames.filter { seen.insert($0).inserted } }
                names += root.nativeTopLevelNames.filter { seen.insert($0).inserted }
            }
        }
        let runTask = Task { [tree, names] in
            try await session.run(
                code: code, filename: scriptPath, argv: argv, connectionID: connectionID, topLevelNames: names, tree: tree)
        }
        let interrupts = await Interrupts.onSIGINT { runTask.cancel() }
        defer { interrupts.cancel() }
        let result = try await runTask.value
        if let served {
            let counts = served.served
            logger.info(
                "tree served",
                metadata: [
                    "snapshot": "\(served.id)", "entries": "\(served.entryCount)", "requests": "\(counts.requests)",
                    "files": "\(counts.files)", "prefetched": "\(counts.prefetched)", "bytes": "\(counts.bytes)",
                ])
        }
        await session.close()
        await output.flush()  // the script's output before our own lines about how it ended
        return result
    }
}

extension RunCommand {
    /// `--deephaven`: the script runs in the server's console; modules come one `fetch_module` at
    /// a time through the plugin (it takes no manifest). The script's own folder joins the
    /// sources unless `--no-script-dir`, as with `python job.py`.
    func runOnDeephaven(logger: Logger) async throws {
        #if Deephaven
        let endpoint = try DeephavenCommands.endpoint(deephaven, caFile: connection.caFile)
        let scriptPath = URL(fileURLWithPath: script).standardizedFileURL.path
        let sourceSet: SourceSet
        let names: [String]
        let code: String
        do {
            code = try ScriptSource.read(scriptPath)
            var folders = sources
            let scriptFolder = URL(fileURLWithPath: scriptPath).deletingLastPathComponent().path
            if !noScriptDirectory, !sources.contains(where: { URL(fileURLWithPath: $0).standardizedFileURL.path == scriptFolder }) {
                folders.append(scriptFolder)
            }
            sourceSet = try SourceSet(directories: folders, excludes: excludes, maxFileBytes: fileSize.maxFileSize.bytes)
            names = try sourceSet.topLevelNames()
        } catch {
            throw Console.fail("\(error)")
        }
        let status = try await DeephavenCommands.run(
            endpoint, code: code, scriptPath: scriptPath, argv: [scriptPath] + scriptArguments, sources: sourceSet,
            names: names, logger: logger)
        if status != 0 { throw ExitCode(status) }
        #else
        throw Console.fail(DeephavenOptions.unavailable.description)
        #endif
    }

    /// The manifest of the run's folders (the script's own first, unless `--no-script-dir`),
    /// built on the NIO thread pool: it walks and hashes files, which must not hold up an event
    /// loop or the cooperative pool.
    func buildSnapshot(id: String, scriptPath: String, code: String, sources: SourceSet, logger: Logger) async throws -> TreeSnapshot {
        let scriptFolder = noScriptDirectory ? nil : (URL(fileURLWithPath: scriptPath).deletingLastPathComponent().path)
        let excludes = self.excludes
        let maxTreeBytes = maxTreeSize.bytes
        let maxFileBytes = fileSize.maxFileSize.bytes
        let cacheDirectory = HashCache.defaultDirectory(environment: ProcessInfo.processInfo.environment)
        return try await NIOThreadPool.singleton.runIfActive {
            let roots = try ManifestRoot.forRun(
                scriptFolder: scriptFolder, sources: sources.indexes, excludes: excludes, maxFileBytes: maxFileBytes, logger: logger)
            let cachePath = cacheDirectory.map { HashCache.path(forRoots: roots.map(\.index.rootPath), in: $0) }
            let builder = ManifestBuilder(
                roots: roots, maxTreeBytes: maxTreeBytes, cache: HashCache(path: cachePath, logger: logger), logger: logger)
            let scriptImports = ImportScanner.candidates(
                of: ImportScanner.scan(Array(code.utf8)), module: "__main__", isPackage: false)
            let snapshot = TreeSnapshot(try builder.build(snapshot: id), scriptImports: scriptImports)
            if let cacheDirectory { HashCache.trim(cacheDirectory) }
            return snapshot
        }
    }
}

/// Reads the script as Python would: the index's PEP 263 rules are for modules; a script is
/// read the same way so a latin-1 script with a cookie runs too.
enum ScriptSource {
    static func read(_ path: String) throws -> String {
        guard let data = FileManager.default.contents(atPath: path) else {
            var isDirectory: ObjCBool = false
            let exists = FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory)
            throw ClientError.scriptUnreadable(
                path: path, reason: !exists ? "no such file" : isDirectory.boolValue ? "is a directory" : "permission denied")
        }
        do {
            return try SourceDecoder.decode(Array(data), path: path)
        } catch {
            throw ClientError.scriptUnreadable(path: path, reason: "\(error)")
        }
    }
}

/// The path of this executable, for starting `rfs worker --handshake` as a child.
enum Executable {
    static var path: String {
        if let resolved = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe") {
            return resolved
        }
        return CommandLine.arguments[0]
    }
}

/// Ctrl-C: the first one cancels the run (sent to the worker as `$/cancelRequest`), a second
/// one exits at once with 130. The signal is trapped before this returns, so none is missed.
struct Interrupts: Sendable {
    private let watcher: Task<Void, Never>

    static func onSIGINT(_ action: @escaping @Sendable () -> Void) async -> Interrupts {
        let signals = await UnixSignalsSequence(trapping: .sigint)
        let watcher = Task {
            var seen = 0
            for await _ in signals {
                seen += 1
                if seen == 1 { action() } else { _exit(130) }
            }
        }
        return Interrupts(watcher: watcher)
    }

    func cancel() {
        watcher.cancel()
    }
}
