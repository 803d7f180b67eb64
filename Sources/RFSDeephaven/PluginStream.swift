#if Deephaven
import Foundation
import GRPCCore
import Logging
import RFSClient
import RFSDeephavenProto
import RFSModuleIndex
import RFSProtocol
import RFSWire

/// The plugin object's `ObjectService/MessageStream`, spoken as the reference plugin expects
/// (DESIGN.md §8): the first request is `connect{source_id}`, the server's first payload is
/// empty, then each payload is one JSON-RPC message. `rfs` sends only single responses and the
/// one `set_connection_id` request (whose **id** is the connection id): the plugin closes the
/// stream on a notification, a batch or non-JSON, and never answers unknown requests.
///
/// One task reads the stream and answers each `fetch_module` before reading the next, so at most
/// one reply is being built or sent at a time: memory stays bounded whatever the server sends,
/// and a server that stops reading stops this reader (gRPC flow control).
enum PluginStream {
    /// The plugin object's type, as the server registers it.
    static let pluginType = "DeephavenPythonRemoteFileSourcePlugin"

    /// Opens the stream to the plugin object in `variable`, sets `connectionID`, calls `ready`
    /// once the plugin has acknowledged it, then answers `fetch_module` from `sources` until
    /// cancelled. Throws ``DeephavenError/messageStreamEnded(server:reason:)`` when the server
    /// ends the stream.
    static func serve<Transport: ClientTransport>(
        session: DeephavenSession<Transport>, variable: String, connectionID: String, sources: SourceSet, logger: Logger,
        ready: @escaping @Sendable () -> Void
    ) async throws {
        let connect = connectRequest(variable: variable)
        let (writers, handOver) = AsyncStream<RPCWriter<Deephaven_StreamRequest>>.makeStream()
        let (readerDone, finishReader) = AsyncStream<Void>.makeStream()
        let server = session.endpoint.url
        let request = StreamingClientRequest(of: Deephaven_StreamRequest.self) { writer in
            try await writer.write(connect)
            handOver.yield(writer)
            handOver.finish()
            for await _ in readerDone {}  // keep the request side open while the reader works
        }
        do {
            try await Deephaven_ObjectService.Client(wrapping: session.client).messageStream(
                request: request, options: session.callOptions()
            ) { response in
                defer { finishReader.finish() }
                var iterator = writers.makeAsyncIterator()
                guard let writer = await iterator.next() else { throw CancellationError() }
                var sent = false
                var acknowledged = false
                for try await message in response.messages {
                    guard case .data(let data) = message.message, !data.payload.isEmpty else {
                        // The plugin's greeting: the stream is open, our id can go.
                        if !sent { try await send(setConnectionID(connectionID), to: writer) }
                        sent = true
                        continue
                    }
                    let text = String(decoding: data.payload, as: UTF8.self)
                    switch JSONRPCDecoder.decode(text) {
                    case .single(.success(.response(let reply))) where reply.id == .string(connectionID):
                        if let error = reply.error {
                            throw DeephavenError.consoleCommandFailed(
                                server: server, step: "set_connection_id", message: error.message)
                        }
                        if !acknowledged {
                            acknowledged = true
                            ready()
                        }
                    case .single(.success(.request(let request))):
                        let reply = await answer(request, sources: sources, logger: logger)
                        try await send(JSONRPCEncoder.encode(reply), to: writer)
                    default:
                        logger.debug("ignored a message from the plugin", metadata: ["payload": "\(text.prefix(200))"])
                    }
                }
                throw DeephavenError.messageStreamEnded(server: server, reason: "the server closed it")
            }
        } catch let error as DeephavenError {
            throw error
        } catch is CancellationError {
            throw CancellationError()
        } catch {
            if Task.isCancelled { throw CancellationError() }
            throw DeephavenError.from(error, call: "ObjectService/MessageStream", server: server)
        }
    }

    /// The stream's first request: the plugin object's typed ticket, `s/<variable>`.
    static func connectRequest(variable: String) -> Deephaven_StreamRequest {
        var connect = Deephaven_StreamRequest()
        var ticket = Deephaven_TypedTicket()
        ticket.ticket.ticket = Data("s/\(variable)".utf8)
        ticket.type = pluginType
        connect.connect.sourceID = ticket
        return connect
    }

    static func setConnectionID(_ id: String) -> String {
        JSONRPCEncoder.encode(JSONRPCRequest(id: .string(id), method: WireMethod.setConnectionID))
    }

    private static func send(_ text: String, to writer: RPCWriter<Deephaven_StreamRequest>) async throws {
        var message = Deephaven_StreamRequest()
        message.data.payload = Data(text.utf8)
        try await writer.write(message)
    }

    /// The reply to one request of the plugin. Only `fetch_module` is expected. A module whose
    /// source cannot be served becomes a module whose source raises the ImportError naming the
    /// file: the reference plugin drops a reply's `error` and would only say "No module named".
    static func answer(_ request: JSONRPCRequest, sources: SourceSet, logger: Logger) async -> JSONRPCResponse {
        guard request.method == WireMethod.fetchModule else {
            return JSONRPCResponse(id: request.id, error: .methodNotFound(request.method))
        }
        let name: String
        do {
            name = try FetchModuleParams(json: request.params).moduleName
        } catch {
            return JSONRPCResponse(id: request.id, error: error)
        }
        do {
            let found = try await ClientSession.lookUp(name, in: sources, prefetching: .disabled, logger: logger)
            return JSONRPCResponse(id: request.id, result: found?.result.json ?? .null)
        } catch {
            var origin: String?
            if case .object(let data)? = error.data, case .string(let path)? = data["path"] { origin = path }
            let raising = FetchModuleResult(
                name: name, origin: origin, isPackage: false, submoduleSearchLocations: nil,
                source: "raise ImportError(\(ConsoleScripts.literal(error.message)))")
            return JSONRPCResponse(id: request.id, result: raising.json)
        }
    }
}
#endif  // Deephaven
