#if Deephaven
import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2Posix
import Logging
import RFSDeephavenProto
import Synchronization

/// How a ``DeephavenClient`` reaches its server: the endpoint, and a fresh gRPC transport for
/// each connection (a reconnecting `serve` makes several). Real servers use
/// ``PosixDeephavenConnector``; tests connect to fake services in process.
public protocol DeephavenConnector: Sendable {
    associatedtype Transport: ClientTransport
    var endpoint: DeephavenEndpoint { get }
    func makeTransport() throws -> Transport
}

/// HTTP/2 over TCP (and TLS for `https://`) with grpc-swift-nio-transport.
public struct PosixDeephavenConnector: DeephavenConnector {
    public let endpoint: DeephavenEndpoint

    public init(endpoint: DeephavenEndpoint) {
        self.endpoint = endpoint
    }

    public func makeTransport() throws -> HTTP2ClientTransport.Posix {
        do {
            return try HTTP2ClientTransport.Posix(
                target: .dns(host: endpoint.host, port: endpoint.port), transportSecurity: try security())
        } catch {
            throw DeephavenError.unreachable(
                server: endpoint.url, underlying: RPCError(code: .unavailable, message: "\(error)", cause: error))
        }
    }

    private func security() throws -> HTTP2ClientTransport.Posix.TransportSecurity {
        guard endpoint.useTLS else { return .plaintext }
        let caFile = endpoint.caFile
        return .tls { config in
            if let caFile {
                config.trustRoots = .certificates([.file(path: caFile, format: .pem)])
            }
        }
    }
}

/// One logged-in Deephaven session: the gRPC client, its credential, and the calls `rfs` makes.
///
/// Built only by ``with(_:logger:body:)``, which owns the connection's lifetime: it logs in, keeps
/// the session alive while `body` runs (Deephaven ends a session after `http.session.durationMs`
/// without a call, and rotates the bearer token on replies), and shuts the client down after.
/// Immutable apart from the credential (its own lock) and the export-id counter (atomic).
public final class DeephavenSession<Transport: ClientTransport>: Sendable {
    /// The first call: its reply proves the key and carries the first bearer token.

    public let endpoint: DeephavenEndpoint
    /// `deephaven.version` from the server's configuration constants, when it says.
    public let serverVersion: String?
    /// How long the server keeps an idle session (`http.session.durationMs`, 5 min by default).
    public let sessionDuration: Duration
    let client: GRPCClient<Transport>
    let credentials: DeephavenCredentials
    let logger: Logger
    private let nextExportID = Atomic<Int32>(1)

    private init(
        endpoint: DeephavenEndpoint, client: GRPCClient<Transport>, credentials: DeephavenCredentials,
        constants: [String: String], logger: Logger
    ) {
        self.endpoint = endpoint
        self.client = client
        self.credentials = credentials
        self.logger = logger
        serverVersion = constants["deephaven.version"]
        let millis = constants["http.session.durationMs"].flatMap(Int64.init) ?? 300_000
        sessionDuration = .milliseconds(max(millis, 1_000))
    }

    /// Connects to `endpoint`, logs in with its key, and runs `body` with the session while a
    /// keepalive call every third of the session's length keeps it open. Throws
    /// ``DeephavenError`` for an unreachable server or a refused key; if the session is lost
    /// while `body` runs (the server restarted, the key was revoked), `body` is cancelled and the
    /// keepalive's error is thrown.
    public static func with<Connector: DeephavenConnector, Result: Sendable>(
        _ connector: Connector, logger: Logger,
        body: @escaping @Sendable (DeephavenSession) async throws -> Result
    ) async throws -> Result where Connector.Transport == Transport {
        let endpoint = connector.endpoint
        let transport = try connector.makeTransport()
        let credentials = DeephavenCredentials(psk: endpoint.psk)
        return try await withGRPCClient(transport: transport, interceptors: [DeephavenAuthInterceptor(credentials: credentials)]) {
            client in
            let constants = try await login(client: client, endpoint: endpoint)
            let session = DeephavenSession(
                endpoint: endpoint, client: client, credentials: credentials, constants: constants, logger: logger)
            logger.info(
                "logged in to Deephaven",
                metadata: [
                    "server": "\(endpoint.url)", "version": "\(session.serverVersion ?? "?")",
                    "session_ms": "\(session.sessionDuration.components.seconds * 1000 + session.sessionDuration.components.attoseconds / 1_000_000_000_000_000)",
                ])
            return try await withThrowingTaskGroup(of: Result?.self) { group in
                group.addTask {
                    try await session.keepAlive()
                    return nil
                }
                group.addTask { try await body(session) }
                defer { group.cancelAll() }
                while let outcome = try await group.next() {
                    if let outcome { return outcome }
                }
                throw CancellationError()
            }
        }
    }

    private static func login(
        client: GRPCClient<Transport>, endpoint: DeephavenEndpoint
    ) async throws -> [String: String] {
        var options = CallOptions.defaults
        options.timeout = endpoint.connectTimeout
        options.waitForReady = false
        do {
            let reply = try await Deephaven_ConfigService.Client(wrapping: client).getConfigurationConstants(
                Deephaven_ConfigurationConstantsRequest(), options: options)
            return reply.configValues.mapValues(\.stringValue)
        } catch {
            throw DeephavenError.from(error, call: DeephavenError.loginCall, server: endpoint.url)
        }
    }

    /// Calls `GetConfigurationConstants` every third of the session's length until cancelled;
    /// throws when a call fails (the session is gone).
    private func keepAlive() async throws {
        let interval = sessionDuration / 3
        while true {
            try await Task.sleep(for: interval)
            do {
                _ = try await Deephaven_ConfigService.Client(wrapping: client).getConfigurationConstants(
                    Deephaven_ConfigurationConstantsRequest(), options: callOptions(timeout: interval))
                logger.debug("Deephaven session kept alive", metadata: ["server": "\(endpoint.url)"])
            } catch {
                throw DeephavenError.from(error, call: "keepalive (ConfigService/GetConfigurationConstants)", server: endpoint.url)
            }
        }
    }

    func callOptions(timeout: Duration? = nil) -> CallOptions {
        var options = CallOptions.defaults
        options.timeout = timeout
        options.waitForReady = false
        return options
    }

    /// A fresh export ticket: `e` followed by a session-unique int32, little-endian.
    func newExportTicket() -> Deephaven_Ticket {
        let id = nextExportID.add(1, ordering: .relaxed).oldValue
        var ticket = Deephaven_Ticket()
        ticket.ticket = Data([UInt8(ascii: "e")] + withUnsafeBytes(of: id.littleEndian, Array.init))
        return ticket
    }

    // MARK: Console

    public func consoleTypes() async throws -> [String] {
        do {
            return try await Deephaven_ConsoleService.Client(wrapping: client).getConsoleTypes(
                Deephaven_GetConsoleTypesRequest(), options: callOptions(timeout: .seconds(30))
            ).consoleTypes
        } catch {
            throw DeephavenError.from(error, call: "ConsoleService/GetConsoleTypes", server: endpoint.url)
        }
    }

    /// Starts a Python console; its ticket names it in ``execute(_:in:)``. Refuses, naming the
    /// console types the server offers, when Python is not among them.
    public func startPythonConsole() async throws -> Deephaven_Ticket {
        let types = try await consoleTypes()
        guard types.contains("python") else {
            throw DeephavenError.pythonConsoleDisabled(server: endpoint.url, consoleTypes: types)
        }
        var request = Deephaven_StartConsoleRequest()
        request.resultID = newExportTicket()
        request.sessionType = "python"
        do {
            let reply = try await Deephaven_ConsoleService.Client(wrapping: client).startConsole(
                request, options: callOptions(timeout: .seconds(60)))
            return reply.hasResultID ? reply.resultID : request.resultID
        } catch {
            throw DeephavenError.from(error, call: "ConsoleService/StartConsole", server: endpoint.url)
        }
    }

    /// Runs `code` in the console; the reply's `errorMessage` is empty on success. No timeout:
    /// a script may run for as long as it likes, and the server cannot cancel it.
    public func execute(_ code: String, in console: Deephaven_Ticket) async throws -> Deephaven_ExecuteCommandResponse {
        var request = Deephaven_ExecuteCommandRequest()
        request.consoleID = console
        request.code = code
        do {
            return try await Deephaven_ConsoleService.Client(wrapping: client).executeCommand(request, options: callOptions())
        } catch {
            throw DeephavenError.from(error, call: "ConsoleService/ExecuteCommand", server: endpoint.url)
        }
    }

    /// Follows the server's log (stdout and stderr of every console: Deephaven has no
    /// per-console log) from `sinceMicros`, handing each record to `handle` until it returns a
    /// value, which this returns. The records are read one at a time, so a slow handler slows
    /// the stream (gRPC flow control), never memory.
    public func followLogs<Value: Sendable>(
        sinceMicros: Int64, handle: @escaping @Sendable (Deephaven_LogSubscriptionData) async throws -> Value?
    ) async throws -> Value {
        var request = Deephaven_LogSubscriptionRequest()
        request.lastSeenLogTimestamp = sinceMicros
        request.levels = ["STDOUT", "STDERR"]
        do {
            return try await Deephaven_ConsoleService.Client(wrapping: client).subscribeToLogs(request, options: callOptions()) {
                response in
                for try await record in response.messages {
                    if let value = try await handle(record) { return value }
                }
                throw DeephavenError.messageStreamEnded(server: self.endpoint.url, reason: "the server ended the log subscription")
            }
        } catch {
            throw DeephavenError.from(error, call: "ConsoleService/SubscribeToLogs", server: endpoint.url)
        }
    }
}
#endif  // Deephaven
