import ArgumentParser
import Foundation
import Logging
import RFSClient
import RFSModuleIndex

/// How to reach a worker: shared by `run`, `serve` and `info`.
struct WorkerConnectionOptions: ParsableArguments {
    @Option(name: .customLong("token-file"), help: "File holding the worker's bearer token (default: $RFS_TOKEN).")
    var tokenFile: String?

    @Option(name: .customLong("ca-file"), help: "PEM file of the CA that signed a wss:// worker's (or an https:// Deephaven server's) certificate.")
    var caFile: String?

    @OptionGroup var keepalive: KeepaliveOptions

    func token() throws -> String? {
        try BearerTokenSource.read(file: tokenFile)
    }

    func endpoint(url: String) throws -> WorkerEndpoint {
        var endpoint = WorkerEndpoint(url: WorkerURL.normalized(url), token: try token(), caFile: caFile)
        keepalive.apply(to: &endpoint)
        return endpoint
    }
}

/// WebSocket keepalive, both ways: `run`, `serve` and `info` ping the worker, `worker` pings
/// each client; a peer that answers nothing for the pong timeout is dropped. The defaults match
/// on both sides (30 s, 20 s).
struct KeepaliveOptions: ParsableArguments {
    @Option(name: .customLong("ping-interval"), help: "Seconds between keepalive pings to the other side.")
    var pingInterval = Seconds(30)

    @Option(
        name: .customLong("pong-timeout"),
        help: "Seconds without any reply to a ping after which the other side counts as gone (checked at each ping).")
    var pongTimeout = Seconds(20)

    func validate() throws {
        guard pingInterval.value > 0 else { throw ValidationError("--ping-interval must be more than 0 seconds") }
        guard pongTimeout.value > 0 else { throw ValidationError("--pong-timeout must be more than 0 seconds") }
    }

    func apply(to endpoint: inout WorkerEndpoint) {
        endpoint.pingInterval = pingInterval.duration
        endpoint.pongTimeout = pongTimeout.duration
    }
}

/// The largest source file `run` and `serve` read for the worker (`--max-file-size`).
struct FileSizeOptions: ParsableArguments {
    @Option(
        name: .customLong("max-file-size"),
        help: "Largest Python source file served, e.g. 64M (K, M, G suffixes). A bigger one is never read: importing it fails with an ImportError naming the file, its size and the limit.")
    var maxFileSize = ByteSize(bytes: ModuleIndex.defaultMaxFileBytes)
}

/// Where a secret comes from, for workers and clients alike: a file (`--token-file`,
/// `--psk-file`), else an environment variable (`RFS_TOKEN`, `DEEPHAVEN_PSK`); `nil` when
/// neither gives one. The file's text is trimmed.
enum SecretSource {
    static func read(file: String?, variable: String, describing what: String) throws -> String? {
        if let file {
            do {
                return try String(contentsOfFile: file, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
            } catch {
                throw CLIError("cannot read \(what) file \(file): \(error.localizedDescription)")
            }
        }
        if let value = ProcessInfo.processInfo.environment[variable], !value.isEmpty {
            return value
        }
        return nil
    }
}

/// The worker's bearer token: `--token-file`, else `RFS_TOKEN`.
enum BearerTokenSource {
    static func read(file: String?) throws -> String? {
        try SecretSource.read(file: file, variable: "RFS_TOKEN", describing: "token")
    }
}

/// How much of a package travels with it when the worker imports it: shared by `run` and `serve`.
struct PrefetchOptions: ParsableArguments {
    @Option(
        name: .customLong("prefetch-max-bytes"),
        help: "Source bytes a package's reply may carry of the modules below it (0: one module per reply).")
    var maxBytes: Int = PrefetchLimits.default.maxBytes

    @Flag(name: .customLong("no-prefetch"), help: "Send one module per reply, as the reference plugin does.")
    var disabled = false

    func validate() throws {
        guard maxBytes >= 0 else { throw ValidationError("--prefetch-max-bytes must be 0 or more, not \(maxBytes)") }
    }

    var limits: PrefetchLimits {
        disabled ? .disabled : PrefetchLimits(maxModules: PrefetchLimits.default.maxModules, maxBytes: maxBytes)
    }
}

/// Logging flags; logs always go to stderr so stdout stays the script's.
struct LoggingOptions: ParsableArguments {
    @Option(name: .customLong("log-level"), help: "trace, debug, info, notice, warning, error or critical.")
    var logLevel: String?

    @Flag(name: .shortAndLong, help: "Log at info level.")
    var verbose = false

    func bootstrap(default level: Logger.Level) -> Logger {
        let chosen = logLevel.flatMap(Logger.Level.init(rawValue:))
            ?? ProcessInfo.processInfo.environment["RFS_LOG_LEVEL"].flatMap(Logger.Level.init(rawValue:))
            ?? (verbose ? .info : level)
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = chosen
            return handler
        }
        return Logger(label: "rfs")
    }
}

/// Worker URLs may omit the path: `wss://host:8710` means `wss://host:8710/v1/session`.
enum WorkerURL {
    static func normalized(_ url: String) -> String {
        guard let schemeEnd = url.range(of: "://") else { return url }
        let rest = url[schemeEnd.upperBound...]
        return rest.contains("/") ? url : url + "/v1/session"
    }
}

/// A one-line failure for the user; the command exits with `exitCode`.
struct CLIError: Error, CustomStringConvertible {
    var description: String
    var exitCode: Int32

    init(_ description: String, exitCode: Int32 = 2) {
        self.description = description
        self.exitCode = exitCode
    }
}

/// Writes straight to a standard stream, unbuffered, so output interleaves as it arrives.
enum Console {
    static func write(_ text: String, to handle: FileHandle) {
        handle.write(Data(text.utf8))
    }

    static func fail(_ message: String, exitCode: Int32 = 2) -> ExitCode {
        write("rfs: \(message)\n", to: .standardError)
        return ExitCode(exitCode)
    }
}


/// A size in bytes with an optional K, M or G suffix (powers of 1024): `512M`, `2G`, `1048576`.
struct ByteSize: ExpressibleByArgument, Sendable {
    var bytes: Int64

    init(bytes: Int64) {
        self.bytes = bytes
    }

    init?(argument: String) {
        let text = argument.uppercased().replacingOccurrences(of: "IB", with: "").replacingOccurrences(of: "B", with: "")
        let units: [Character: Int64] = ["K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40]
        var multiplier: Int64 = 1
        var digits = Substring(text)
        if let last = text.last, let unit = units[last] {
            multiplier = unit
            digits = text.dropLast()
        }
        guard let number = Double(digits), number.isFinite, number > 0 else { return nil }
        let product = number * Double(multiplier)
        guard product < Double(Int64.max) else { return nil }
        bytes = Int64(product)
    }

    /// `--help`'s "(default: 32M)": the largest unit that divides the value exactly.
    var defaultValueDescription: String {
        for (unit, size) in [("T", Int64(1) << 40), ("G", 1 << 30), ("M", 1 << 20), ("K", 1 << 10)]
        where bytes >= size && bytes % size == 0 {
            return "\(bytes / size)\(unit)"
        }
        return "\(bytes)"
    }
}
