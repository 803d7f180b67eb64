import ArgumentParser
import Foundation
import Logging
import NIOPosix
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
            The token comes from $RFS_TOKEN or --token-file (every permission), or named tokens \
            with their own permissions from --tokens-file (lines of NAME PERMISSIONS TOKEN; \
            permissions run, serve, info, admin). Tokens need at least 16 characters and no \
            whitespace. Without a token the worker refuses to \
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

    @Option(
        name: .customLong("tokens-file"),
        help: "File of named tokens, one per line: NAME PERMISSIONS TOKEN (permissions: a comma list of run, serve, info, admin); readable by its owner only.")
    var tokensFile: String?

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
            configuration.authentication = .token(Token.random())
        } else {
            do {
                try await configure(&configuration, logger: logger)
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
            guard case .token(let token) = configuration.authentication else { fatalError("the child worker has a token") }
            Console.write(ChildHandshake.line(url: url, token: token) + "\n", to: .standardOutput)
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

    private func configure(_ configuration: inout WorkerConfiguration, logger: Logger) async throws {
        guard let colon = listen.lastIndex(of: ":"), let port = Int(listen[listen.index(after: colon)...]),
            (0...65535).contains(port)
        else {
            throw CLIError("--listen \(listen): expected HOST:PORT")
        }
        var host = String(listen[..<colon])
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        configuration.host = host
        configuration.port = port
        configuration.authentication = try await authentication(host: host, logger: logger)
        switch (tlsCert, tlsKey) {
        case (let cert?, let key?): configuration.tls = TLSFiles(certificatePath: cert, privateKeyPath: key)
        case (nil, nil): break
        default: throw CLIError("--tls-cert and --tls-key go together")
        }
    }
}

extension WorkerCommand {
    /// Who may connect: the tokens file's named tokens, the single token of `--token-file` or
    /// `RFS_TOKEN` (principal `default`, every permission), or nobody's token with `--no-auth`
    /// on loopback. Every token is checked against ``TokenRules`` here, before anything starts.
    func authentication(host: String, logger: Logger) async throws -> Authentication {
        let environmentToken = ProcessInfo.processInfo.environment["RFS_TOKEN"].flatMap { $0.isEmpty ? nil : $0 }
        if let tokensFile {
            if tokenFile != nil {
                throw CLIError("--tokens-file and --token-file cannot be used together: put every token in the tokens file")
            }
            if environmentToken != nil {
                throw CLIError("--tokens-file cannot be used while RFS_TOKEN is set: unset RFS_TOKEN (the tokens file names every token)")
            }
            if noAuth {
                throw CLIError("--tokens-file and --no-auth contradict each other")
            }
            // A small file, read once at start, on NIO's thread pool rather than Swift's.
            let table: TokenTable
            do {
                table = try await NIOThreadPool.singleton.runIfActive { try TokensFile.load(path: tokensFile) }
            } catch let error as TokensFileError {
                throw CLIError(error.description)
            }
            logger.info(
                "tokens loaded",
                metadata: [
                    "file": "\(tokensFile)",
                    "tokens": "\(table.principals.map { "\($0.name)=\($0.permissions)" }.joined(separator: " "))",
                ])
            return .tokens(table)
        }
        if let token = try BearerTokenSource.read(file: tokenFile) {
            let source = tokenFile.map { "the token in \($0)" } ?? "RFS_TOKEN"
            if let tokenFile, token.isEmpty { throw CLIError("token file \(tokenFile) is empty") }
            if let problem = TokenRules.problem(with: token) {
                throw CLIError(
                    "\(source) is refused: \(problem) (a token needs at least \(TokenRules.minimumLength) characters, "
                        + "no whitespace or control characters)")
            }
            return .token(token)
        }
        guard noAuth else {
            throw CLIError("no token: set RFS_TOKEN, --token-file or --tokens-file (or --no-auth on a loopback address)")
        }
        guard isLoopback(host: host) else {
            throw CLIError("--no-auth is only allowed on a loopback address, not \(host)")
        }
        return .none
    }
}

/// Fresh bearer tokens for the child worker: 64 hex digits, well within ``TokenRules``.
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
