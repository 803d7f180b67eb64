#if Deephaven
import Foundation
import GRPCCore
import GRPCInProcessTransport
import Logging
import RFSDeephaven
import RFSDeephavenProto
import RFSProtocol
import Synchronization

/// Deephaven's config, console and object services as the reference server behaves (DESIGN.md
/// §8), in process: a PSK login answered with a bearer token that rotates on every reply, the
/// console's commands recorded, and the plugin's message stream played by a script of
/// `fetch_module` requests whose replies are recorded.
final class FakeDeephaven: Sendable {
    struct Recorded: Sendable {
        var authorizations: [String] = []
        var commands: [String] = []
        var connect: Deephaven_TypedTicket?
        var connectionID: String?
        var replies: [JSONValue] = []
    }

    let psk: String
    let consoleTypes: [String]
    let pluginInstalled: Bool
    /// Module names the fake plugin asks for once the connection id is set.
    let fetches: [String]
    let recorded = Mutex(Recorded())
    private let token = Mutex(0)
    /// Yields once every scripted fetch has its reply.
    let fetchesAnswered: AsyncStream<Void>
    private let answered: AsyncStream<Void>.Continuation

    init(psk: String = "the-psk", consoleTypes: [String] = ["python"], pluginInstalled: Bool = true, fetches: [String] = []) {
        self.psk = psk
        self.consoleTypes = consoleTypes
        self.pluginInstalled = pluginInstalled
        self.fetches = fetches
        (fetchesAnswered, answered) = AsyncStream.makeStream()
    }

    var snapshot: Recorded { recorded.withLock { $0 } }

    /// Checks the call's credential like Deephaven: the PSK logs in, then only the newest bearer
    /// token is accepted. Returns the metadata carrying the next token.
    func authorize(_ metadata: Metadata) throws -> Metadata {
        let value = metadata[stringValues: "authorization"].first(where: { _ in true }) ?? ""
        recorded.withLock { $0.authorizations.append(value) }
        let next = try token.withLock { current -> Int in
            let accepted =
                value == "\(DeephavenCredentials.pskScheme) \(psk)" || (current > 0 && value == "Bearer token-\(current)")
            guard accepted else { throw RPCError(code: .unauthenticated, message: "bad credential") }
            current += 1
            return current
        }
        return ["authorization": "Bearer token-\(next)"]
    }

    var services: [any RegistrableRPCService] { [Config(fake: self), Console(fake: self), Objects(fake: self)] }

    struct Config: Deephaven_ConfigService.ServiceProtocol {
        let fake: FakeDeephaven

        func getAuthenticationConstants(
            request: ServerRequest<Deephaven_AuthenticationConstantsRequest>, context: ServerContext
        ) async throws -> ServerResponse<Deephaven_AuthenticationConstantsResponse> {
            ServerResponse(message: .init())
        }

        func getConfigurationConstants(
            request: ServerRequest<Deephaven_ConfigurationConstantsRequest>, context: ServerContext
        ) async throws -> ServerResponse<Deephaven_ConfigurationConstantsResponse> {
            let metadata = try fake.authorize(request.metadata)
            var reply = Deephaven_ConfigurationConstantsResponse()
            var version = Deephaven_ConfigValue()
            version.stringValue = "42.7-fake"
            var duration = Deephaven_ConfigValue()
            duration.stringValue = "3000"
            reply.configValues = ["deephaven.version": version, "http.session.durationMs": duration]
            return ServerResponse(message: reply, metadata: metadata)
        }
    }

    struct Console: Deephaven_ConsoleService.ServiceProtocol {
        let fake: FakeDeephaven

        func getConsoleTypes(
            request: ServerRequest<Deephaven_GetConsoleTypesRequest>, context: ServerContext
        ) async throws -> ServerResponse<Deephaven_GetConsoleTypesResponse> {
            let metadata = try fake.authorize(request.metadata)
            var reply = Deephaven_GetConsoleTypesResponse()
            reply.consoleTypes = fake.consoleTypes
            return ServerResponse(message: reply, metadata: metadata)
        }

        func startConsole(
            request: ServerRequest<Deephaven_StartConsoleRequest>, context: ServerContext
        ) async throws -> ServerResponse<Deephaven_StartConsoleResponse> {
            let metadata = try fake.authorize(request.metadata)
            var reply = Deephaven_StartConsoleResponse()
            reply.resultID = request.message.resultID
            return ServerResponse(message: reply, metadata: metadata)
        }

        func subscribeToLogs(
            request: ServerRequest<Deephaven_LogSubscriptionRequest>, context: ServerContext
        ) async throws -> StreamingServerResponse<Deephaven_LogSubscriptionData> {
            StreamingServerResponse(error: RPCError(code: .unimplemented, message: "not in this fake"))
        }

        func executeCommand(
            request: ServerRequest<Deephaven_ExecuteCommandRequest>, context: ServerContext
        ) async throws -> ServerResponse<Deephaven_ExecuteCommandResponse> {
            let metadata = try fake.authorize(request.metadata)
            let code = request.message.code
            fake.recorded.withLock { $0.commands.append(code) }
            var reply = Deephaven_ExecuteCommandResponse()
            if !fake.pluginInstalled, code.contains("from deephaven.python_remote_file_source import") {
                reply.errorMessage = """
                    java.lang.RuntimeException: Error in Python interpreter:
                    Traceback (most recent call last):
                      File "<string>", line 1, in <module>
                    ModuleNotFoundError: No module named 'deephaven.python_remote_file_source'

                    \tat org.jpy.PyLib.executeCode(Native Method)
                    \tat org.jpy.PyObject.executeCode(PyObject.java:172)
                    """
            }
            return ServerResponse(message: reply, metadata: metadata)
        }
    }

    struct Objects: Deephaven_ObjectService.ServiceProtocol {
        let fake: FakeDeephaven

        func messageStream(
            request: StreamingServerRequest<Deephaven_StreamRequest>, context: ServerContext
        ) async throws -> StreamingServerResponse<Deephaven_StreamResponse> {
            let metadata = try fake.authorize(request.metadata)
            let fake = self.fake
            return StreamingServerResponse(metadata: metadata) { writer in
                func send(_ text: String) async throws {
                    var message = Deephaven_StreamResponse()
                    message.data.payload = Data(text.utf8)
                    try await writer.write(message)
                }
                var pending = fake.fetches.count
                var iterator = request.messages.makeAsyncIterator()
                guard let first = try await iterator.next(), case .connect(let connect)? = first.message else {
                    throw RPCError(code: .invalidArgument, message: "the first request must be connect")
                }
                fake.recorded.withLock { $0.connect = connect.sourceID }
                try await send("")  // the plugin's greeting
                while let next = try await iterator.next() {
                    guard case .data(let data)? = next.message else { continue }
                    let message = try JSONValue.parse(String(decoding: data.payload, as: UTF8.self))
                    if message["method"] == "set_connection_id", case .string(let id)? = message["id"] {
                        fake.recorded.withLock { $0.connectionID = id }
                        try await send(#"{"jsonrpc":"2.0","id":\#(JSONValue.string(id).serialized()),"result":null}"#)
                        for (index, name) in fake.fetches.enumerated() {
                            let request: JSONValue = [
                                "jsonrpc": "2.0", "id": .string("fetch-\(index)"), "method": "fetch_module",
                                "params": ["module_name": .string(name)],
                            ]
                            try await send(request.serialized())
                        }
                        if pending == 0 { fake.answered.yield() }
                    } else {
                        fake.recorded.withLock { $0.replies.append(message) }
                        pending -= 1
                        if pending == 0 { fake.answered.yield() }
                    }
                }
                return [:]
            }
        }
    }
}

/// Connects a ``DeephavenClient`` to a ``FakeDeephaven`` through grpc-swift's in-process
/// transport (one connection: the transport pair is made once).
struct InProcessConnector: DeephavenConnector {
    let endpoint: DeephavenEndpoint
    let transport: InProcessTransport

    func makeTransport() throws -> InProcessTransport.Client { transport.client }
}

/// Runs `body` with a client of `fake`, serving in process for the body's duration.
func withFakeDeephaven<Result: Sendable>(
    _ fake: FakeDeephaven, psk: String? = nil,
    _ body: (DeephavenClient<InProcessConnector>) async throws -> Result
) async throws -> Result {
    let transport = InProcessTransport()
    let endpoint = try DeephavenEndpoint(url: "http://fake.invalid:10000", psk: psk ?? fake.psk)
    var logger = Logger(label: "fake-deephaven")
    logger.logLevel = .critical
    let client = DeephavenClient(connector: InProcessConnector(endpoint: endpoint, transport: transport), logger: logger)
    return try await withGRPCServer(transport: transport.server, services: fake.services) { _ in
        try await body(client)
    }
}
#endif  // Deephaven
