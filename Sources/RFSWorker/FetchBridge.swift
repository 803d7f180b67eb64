import Logging
import RFSPython
import RFSProtocol

/// Carries a request raised by Python (`_rfs_bridge.request`) to the client session that owns
/// the connection id, and hands the reply back as the JSON text of a JSON-RPC response.
///
/// Runs on Swift's cooperative pool; the Python thread that asked waits with the GIL released.
struct FetchBridge: Sendable {
    let registry: SessionRegistry
    let defaultTimeout: Duration
    let logger: Logger

    func handle(connectionID: String, method: String, paramsJSON: String, timeout: Double?) async throws -> String {
        guard let peer = registry.peer(for: connectionID) else {
            throw BridgeRequestError.connectionLost(
                "no client session has connection id '\(connectionID)' (it disconnected or never connected)")
        }
        let params: JSONValue
        do {
            params = try JSONValue.parse(paramsJSON)
        } catch {
            throw BridgeRequestError.failed("\(method): params are not valid JSON: \(error)")
        }
        let limit = timeout.map { Duration.milliseconds(Int64(($0 * 1000).rounded(.up))) } ?? defaultTimeout
        do {
            let result = try await peer.request(method, params: params, timeout: limit)
            return JSONValue.object(["jsonrpc": "2.0", "id": .int(0), "result": result]).serialized()
        } catch let error as JSONRPCError {
            var object: [String: JSONValue] = ["code": .int(Int64(error.code)), "message": .string(error.message)]
            if let data = error.data { object["data"] = data }
            return JSONValue.object(["jsonrpc": "2.0", "id": .int(0), "error": .object(object)]).serialized()
        } catch let error as JSONRPCPeerError {
            switch error {
            case .timedOut:
                throw BridgeRequestError.timedOut("\(method) to connection '\(connectionID)': \(error)")
            case .closed:
                throw BridgeRequestError.connectionLost("\(method) to connection '\(connectionID)': \(error)")
            default:
                throw BridgeRequestError.failed("\(method) to connection '\(connectionID)': \(error)")
            }
        } catch is CancellationError {
            throw BridgeRequestError.failed("\(method) to connection '\(connectionID)' was cancelled")
        }
    }
}
