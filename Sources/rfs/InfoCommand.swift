import ArgumentParser
import Foundation
import Logging
import RFSClient
import RFSProtocol

/// `rfs info`: what a worker currently sources remotely.
struct InfoCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "info",
        abstract: "Print the top-level module names of a worker's current execution context."
    )

    @Option(help: "Worker URL, e.g. ws://127.0.0.1:8710.")
    var worker: String

    @Flag(help: "Print a JSON array.")
    var json = false

    @OptionGroup var connection: WorkerConnectionOptions
    @OptionGroup var logging: LoggingOptions

    func run() async throws {
        let logger = logging.bootstrap(default: .warning)
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
