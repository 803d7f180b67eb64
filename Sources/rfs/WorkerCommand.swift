import ArgumentParser
import Foundation
import Logging
import RFSProtocol
import RFSPython
import RFSTransport
import RFSWire
import RFSWorker
import ServiceLifecycle

/// `rfs worker`: the daemon that runs clients' scripts in run hosts (DESIGN.md §6).
struct WorkerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "worker",
        abstract: "Serve as a worker: run clients' scripts, with their imports, in embedded interpreters.",
        discussion: """
            The token comes from $RFS_TOKEN or --token-file. Without one the worker refuses to \
            start, unless --no-auth is given and it listens on a loopback address. Each run \
            executes in a run host, a child process with its own interpreter: --isolation run \
            (default) starts a fresh one per run, session keeps one per client session, shared \
            uses one for everybody (the reference plugin's semantics).
            """
    )

    @Option(help: "Address to listen on, HOST:PORT.")
    var listen = "127.0.0.1:8710"

    @Option(name: .customLong("token-file"), help: "File holding the bearer token clients must send.")
    var tokenFile: String?

    @Flag(name: .customLong("no-auth"), help: "Accept clients without a token (loopback addresses only).")
    var noAuth = false

    @Option(name: .customLong("tls-cert"), help: "PEM certificate chain; serves wss:// with --tls-key.")
    var tlsCert: String?

    @Option(name: .customLong("tls-key"), help: "PEM private key for --tls-cert.")
    var tlsKey: String?

    @Option(name: .customLong("fetch-timeout"), help: "Seconds an import waits for its client.")
    var fetchTimeout: Seconds = Seconds(30)

    @Option(name: .customLong("shutdown-grace"), help: "Seconds runs may go on after SIGTERM before they are interrupted.")
    var shutdownGrace: Seconds = Seconds(5)

    @Option(name: .customLong("cancel-grace"), help: "Seconds an interrupted run may take to end before its process is killed.")
    var cancelGrace: Seconds = Seconds(3)

    @Option(name: .customLong("run-timeout"), help: "Seconds a run may take before it is interrupted (default: no limit).")
    var runTimeout: Seconds?

    @Option(name: .customLong("run-memory"), help: "Resident memory a run may use, e.g. 512M or 2G (default: no limit).")
    var runMemory: ByteSize?

    @Option(help: "How runs are isolated: run (a fresh interpreter per run), session (one per client session) or shared (one for all).")
    var isolation: IsolationMode = .run

    @Option(name: .customLong("max-runs"), help: "Runs executing at once; more wait in arrival order (default: the number of CPUs).")
    var maxRuns: Int = WorkerConfiguration.defaultMaxRuns

    @Option(name: .customLong("warm-hosts"), help: "Run hosts kept started ahead of need (default: 2; 1 with --handshake).")
    var warmHosts: Int?

    @Option(name: .customLong("max-message-size"), help: "Largest WebSocket message in bytes.")
    var maxMessageSize: Int = 64 << 20

    @Option(
        name: .customLong("cache-dir"),
        help: "The worker node's cache: clients' files and their compiled code, runs' trees, bytecode of the worker's own modules (default: $XDG_CACHE_HOME/rfs or ~/.cache/rfs).")
    var cacheDirectory: String = WorkerConfiguration.defaultCacheDirectory

    @Option(
        name: .customLong("cache-size"),
        help: "The most the cache's store of clients' files and compiled code may hold, e.g. 512MiB; least recently used entries go first.")
    var cacheSize = ByteSize(bytes: WorkerConfiguration.defaultCacheSize)

    @Option(name: .customLong("python-path"), help: "Extra sys.path entry on the worker (repeatable).")
    var pythonPath: [String] = []

    @Option(
        name: .customLong("metrics-listen"),
        help: "Also serve GET /metrics without a token on this loopback HOST:PORT (the main listener's /metrics needs the token).")
    var metricsListen: String?

    @Flag(help: "Child-worker mode for `rfs run` (needs the handshake environment).")
    var handshake = false

    @OptionGroup var keepalive: KeepaliveOptions

    @OptionGroup var logging: LoggingOptions

    func validate() throws {
        guard maxRuns >= 1 else { throw ValidationError("--max-runs must be 1 or more, not \(maxRuns)") }
        if let warmHosts, warmHosts < 0 { throw ValidationError("--warm-hosts must be 0 or more, not \(warmHosts)") }
        guard maxMessageSize >= 1024 else {
            throw ValidationError("--max-message-size must be at least 1024 bytes, not \(maxMessageSize)")
        }
    }

    func run() async throws {
        let logger = logging.bootstrap(default: .info)
        var configuration = WorkerConfiguration(
            maxMessageSize: maxMessageSize, fetchTimeout: fetchTimeout.duration, shutdownGrace: shutdownGrace.duration,
            cancelGrace: cancelGrace.duration, runTimeout: runTimeout?.duration, runMemory: runMemory?.bytes,
            isolation: isolation, maxRuns: maxRuns, warmHosts: warmHosts ?? (handshake ? 1 : 2),
            // The private worker of `rfs run` serves one run: a replacement host would only
            // compete with it for the CPU (unless warm hosts were asked for explicitly).
            refillWarmHosts: !handshake || warmHosts != nil, hostExecutable: Executable.path, pythonPath: pythonPath,
            pythonVersion: PythonInterpreter.linkedVersion, hostLogLevel: logger.logLevel, cacheDirectory: cacheDirectory)
        configuration.cacheSize = cacheSize.bytes
        configuration.pingInterval = keepalive.pingInterval.duration
        configuration.pongTimeout = keepalive.pongTimeout.duration
        if let metricsListen {
            do {
                let address = try Self.address(metricsListen, option: "--metrics-listen")
                // The worker refuses it too; refused here first, as the usage error it is.
                guard isLoopback(host: address.host) else {
                    throw CLIError(WorkerError.metricsListenNotLoopback(host: address.host).description)
                }
                configuration.metricsListen = address
            } catch let error as CLIError {
                throw Console.fail(error.description, exitCode: error.exitCode)
            }
        }
        if handshake {
            if let refusal = ChildHandshake.refusal(environment: ProcessInfo.processInfo.environment) {
                throw Console.fail(refusal, exitCode: 1)
            }
            configuration.host = "127.0.0.1"
            configuration.port = 0
            configuration.token = Token.random()
        } else {
            do {
                try configure(&configuration)
            } catch let error as CLIError {
                throw Console.fail(error.description, exitCode: error.exitCode)
            }
        }
        let worker = Worker(configuration: configuration, logger: logger)
        // Once per process, before anything counts: the worker's registry also receives what is
        // counted through swift-metrics' global API (refusals in the transport and the peer).
        worker.metrics.bootstrapProcessMetrics()
        let port: Int
        do {
            port = try await worker.start()
        } catch {
            throw Console.fail("\(error)", exitCode: 1)
        }
        let group = ServiceGroup(
            configuration: ServiceGroupConfiguration(
                services: [worker], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        if handshake {
            let url = "ws://127.0.0.1:\(port)/v1/session"
            Console.write(ChildHandshake.line(url: url, token: configuration.token!) + "\n", to: .standardOutput)
            StdinWatcher.onClose { Task { await group.triggerGracefulShutdown() } }
        } else {
            // One line on stdout says where clients connect (with the real port when 0 was asked).
            let scheme = configuration.tls == nil ? "ws" : "wss"
            let host = configuration.host.contains(":") ? "[\(configuration.host)]" : configuration.host
            Console.write("rfs worker listening on \(scheme)://\(host):\(port)/v1/session\n", to: .standardOutput)
            if let metricsPort = await worker.metricsPort, let address = configuration.metricsListen {
                let host = address.host.contains(":") ? "[\(address.host)]" : address.host
                Console.write("rfs worker metrics on http://\(host):\(metricsPort)/metrics\n", to: .standardOutput)
            }
        }
        try await group.run()
    }

    /// `HOST:PORT` (`[::1]:9100` for IPv6) of a listen option.
    static func address(_ value: String, option: String) throws -> ListenAddress {
        guard let colon = value.lastIndex(of: ":"), let port = Int(value[value.index(after: colon)...]),
            (0...65535).contains(port)
        else {
            throw CLIError("\(option) \(value): expected HOST:PORT")
        }
        var host = String(value[..<colon])
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        return ListenAddress(host: host, port: port)
    }

    private func configure(_ configuration: inout WorkerConfiguration) throws {
        guard let colon = listen.lastIndex(of: ":"), let port = Int(listen[listen.index(after: colon)...]),
            (0...65535).contains(port)
        else {
            throw CLIError("--listen \(listen): expected HOST:PORT")
        }
        var host = String(listen[..<colon])
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        configuration.host = host
        configuration.port = port
        configuration.token = try BearerTokenSource.read(file: tokenFile)
        if let tokenFile, configuration.token?.isEmpty == true { throw CLIError("token file \(tokenFile) is empty") }
        if configuration.token == nil {
            guard noAuth else {
                throw CLIError("no token: set RFS_TOKEN or --token-file (or --no-auth on a loopback address)")
            }
            guard isLoopback(host: host) else {
                throw CLIError("--no-auth is only allowed on a loopback address, not \(host)")
            }
        }
        switch (tlsCert, tlsKey) {
        case (let cert?, let key?): configuration.tls = TLSFiles(certificatePath: cert, privateKeyPath: key)
        case (nil, nil): break
        default: throw CLIError("--tls-cert and --tls-key go together")
        }
    }
}

/// Fresh bearer tokens for the child worker.
enum Token {
    static func random() -> String {
        var generator = SystemRandomNumberGenerator()
        return (0..<4).map { _ in
            let value = generator.next() as UInt64
            let hex = String(value, radix: 16)
            return String(repeating: "0", count: 16 - hex.count) + hex
        }.joined()
    }
}

/// Watches stdin on a thread of its own and calls back once it closes: the child worker's way
/// of noticing that its parent is gone, even when the parent was killed.
enum StdinWatcher {
    static func onClose(_ action: @escaping @Sendable () -> Void) {
        Thread.detachNewThread {
            var buffer = [UInt8](repeating: 0, count: 256)
            while true {
                let count = read(STDIN_FILENO, &buffer, buffer.count)
                if count == 0 { break }
                if count < 0 && errno != EINTR { break }
            }
            action()
        }
    }
}

/// A number of seconds given on the command line (`1.5`), checked when parsed.
struct Seconds: ExpressibleByArgument, Sendable {
    var value: Double

    init(_ value: Double) {
        self.value = value
    }

    init?(argument: String) {
        guard let value = Double(argument), value.isFinite, value >= 0 else { return nil }
        self.value = value
    }

    var duration: Duration { .milliseconds(Int64((value * 1000).rounded(.up))) }

    var defaultValueDescription: String { value == value.rounded() ? String(Int(value)) : String(value) }
}

extension IsolationMode: ExpressibleByArgument {}
