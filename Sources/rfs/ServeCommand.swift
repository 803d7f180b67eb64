import ArgumentParser
import Foundation
import Logging
import RFSClient

/// `rfs serve`: a long-lived source that feeds a worker's imports from DIR.
struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Serve DIR's modules to a worker until interrupted, logging each fetch.",
        discussion: """
            Runs started by other tools import from DIR when their execution context names this \
            session's connection id (printed at start, or chosen with --id) and DIR's top-level names. \
            Exits 0 when interrupted or when the worker closes the session; 2 when the worker \
            cannot be reached or stops answering (no reply to keepalive pings for --pong-timeout). \
            With --deephaven URL, serves a Deephaven server's remote-file-source plugin instead: \
            rfs sets the server's execution context to DIR's top-level names, so code run in any of \
            its consoles imports them from DIR; rfs reconnects when the server restarts.
            """
    )

    @Argument(help: "The folder to serve.")
    var directory: String

    @Option(help: "Worker URL, e.g. ws://127.0.0.1:8710.")
    var worker: String?

    @OptionGroup var deephaven: DeephavenOptions

    @Option(help: "Connection id to claim (default: a fresh one).")
    var id: String?

    @Option(name: .customLong("exclude"), help: "Glob of paths not to serve (repeatable).")
    var excludes: [String] = []

    @OptionGroup var connection: WorkerConnectionOptions
    @OptionGroup var fileSize: FileSizeOptions
    @OptionGroup var prefetch: PrefetchOptions
    @OptionGroup var logging: LoggingOptions

    func validate() throws {
        try deephaven.validate(worker: worker)
        if deephaven.url != nil, id != nil { throw ValidationError("--id is for workers: the Deephaven plugin gets a fresh connection id") }
    }

    func run() async throws {
        let logger = logging.bootstrap(default: .info)
        let sources: SourceSet
        let names: [String]
        do {
            sources = try SourceSet(directories: [directory], excludes: excludes, maxFileBytes: fileSize.maxFileSize.bytes)
            names = try sources.topLevelNames()
        } catch {
            throw Console.fail("\(error)")
        }
        if deephaven.url != nil {
            #if Deephaven
            let endpoint = try DeephavenCommands.endpoint(deephaven, caFile: connection.caFile)
            try await DeephavenCommands.serve(endpoint, directory: directory, sources: sources, names: names, logger: logger)
            return
            #else
            throw Console.fail(DeephavenOptions.unavailable.description)
            #endif
        }
        guard let worker else { throw Console.fail("give --worker URL or --deephaven URL") }
        let session: ClientSession
        let connectionID = id ?? UUID().uuidString.lowercased()
        do {
            session = try await ClientSession.connect(to: try connection.endpoint(url: worker), logger: logger)
            await session.serve(sources, prefetch: prefetch.limits)
            try await session.setConnectionID(connectionID)
        } catch {
            throw Console.fail(WorkerRefusal.describe(error, worker: worker))
        }
        let interrupts = await Interrupts.onSIGINT { Task { await session.close() } }
        defer { interrupts.cancel() }
        // One line on stdout tells the person (or script) what to put in a run's context.
        Console.write(
            "rfs serve: serving \(sources.indexes.first?.rootPath ?? directory) as connection id \(connectionID) "
                + "(top-level names: \(names.joined(separator: ", "))) on \(session.endpoint.url)\n",
            to: .standardOutput)
        logger.info(
            "serving",
            metadata: [
                "directory": "\(sources.indexes.first?.rootPath ?? directory)", "connection_id": "\(connectionID)",
                "top_level_names": "\(names.joined(separator: ","))", "worker": "\(session.endpoint.url)",
            ])
        do {
            try await session.waitUntilClosed()
        } catch {
            throw Console.fail("\(error)")  // the worker stopped answering: exit 2, one line
        }
        logger.info("session closed")
    }
}
