import ArgumentParser
import Foundation
import Logging
import RFSClient
import RFSProtocol

/// `rfs info`: what a worker currently sources remotely.
struct InfoCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "info",
        abstract: "Print the top-level module names of a worker's current execution context.",
        discussion: """
            With --deephaven URL: the server's version, whether its Python has the \
            remote-file-source plugin, and each plugin object in its console with its connection id \
            and names.
            """
    )

    @Option(help: "Worker URL, e.g. ws://127.0.0.1:8710.")
    var worker: String?

    @OptionGroup var deephaven: DeephavenOptions

    @Flag(help: "Print a JSON array.")
    var json = false

    @OptionGroup var connection: WorkerConnectionOptions
    @OptionGroup var logging: LoggingOptions

    func validate() throws {
        try deephaven.validate(worker: worker)
    }

    func run() async throws {
        let logger = logging.bootstrap(default: .warning)
        if deephaven.url != nil {
            #if Deephaven
            let endpoint = try DeephavenCommands.endpoint(deephaven, caFile: connection.caFile)
            try await DeephavenCommands.info(endpoint, json: json, logger: logger)
            return
            #else
            throw Console.fail(DeephavenOptions.unavailable.description)
            #endif
        }
        guard let worker else { throw Console.fail("give --worker URL or --deephaven URL") }
        let names: [String]
        do {
            let session = try await ClientSession.connect(to: try connection.endpoint(url: worker), logger: logger)
            names = try await session.pluginInfo()
            await session.close()
        } catch {
            throw Console.fail(WorkerRefusal.describe(error, worker: worker))
        }
        if json {
            Console.write(JSONValue.array(names.map(JSONValue.string)).serialized() + "\n", to: .standardOutput)
        } else {
            Console.write(names.map { $0 + "\n" }.joined(), to: .standardOutput)
        }
    }
}
