import ArgumentParser
import Foundation
import Logging
import RFSHost
import RFSWire

/// `rfs host`: a run host, started by `rfs worker` for runs (DESIGN.md §6). Not for people: it
/// refuses to start without the handshake environment the worker sets.
struct HostCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "host",
        abstract: "Internal: a run host started by `rfs worker` (one embedded interpreter).",
        shouldDisplay: false
    )

    @Option(name: .customLong("max-message-size"), help: "Largest message to the worker, in bytes.")
    var maxMessageSize: Int = 64 << 20

    @Option(name: .customLong("python-path"), help: "Extra sys.path entry (repeatable).")
    var pythonPath: [String] = []

    @Option(name: .customLong("pycache-dir"), help: "Where bytecode is kept (default: none is written).")
    var pycacheDirectory: String?

    @Option(name: .customLong("log-level"), help: "Log level (logs go to the worker's stderr).")
    var logLevel: String = "warning"

    func run() async throws {
        let level = Logger.Level(rawValue: logLevel) ?? .warning
        // fd 1 and 2 are the run's output; the worker gives us its own stderr as fd 5 for logs.
        LoggingSystem.bootstrap { label in HostLogHandler(label: label, logLevel: level) }
        let status = await RunHostProcess.serve(
            .init(maxMessageSize: maxMessageSize, pythonPath: pythonPath, pycacheDirectory: pycacheDirectory), logger: Logger(label: "rfs.host"))
        throw ExitCode(status)
    }
}

/// Logs of a run host, one line each, to the descriptor the worker passes for them (its own
/// stderr, fd 5): the host's fd 2 is the run's stderr, which goes to the client.
struct HostLogHandler: LogHandler {
    let label: String
    var logLevel: Logger.Level
    var metadata: Logger.Metadata = [:]

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        var merged = metadata
        if let extra = event.metadata { merged.merge(extra) { $1 } }
        let details = merged.isEmpty ? "" : " " + merged.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
        var line = "\(Date()) \(event.level) \(label) [host \(getpid())]: \(event.message)\(details)\n"
        line.withUTF8 { buffer in
            _ = Glibc.write(5, buffer.baseAddress, buffer.count)
        }
    }
}
