#if Deephaven
import GRPCCore

/// What went wrong talking to a Deephaven server, each case worded for the person at the terminal:
/// it names the server and what to do. The gRPC error behind it, if any, is kept.
public enum DeephavenError: Error, CustomStringConvertible, Sendable {
    case badURL(String, reason: String)
    case emptyPSK
    case unreachable(server: String, underlying: RPCError)
    case wrongPSK(server: String)
    case sessionExpired(server: String)
    case pythonConsoleDisabled(server: String, consoleTypes: [String])
    case pluginMissing(server: String, detail: String)
    /// Our own setup command failed in the server's console (the server's message is kept).
    case consoleCommandFailed(server: String, step: String, message: String)
    case messageStreamEnded(server: String, reason: String)
    case timedOut(server: String, step: String, after: Duration)
    case rpcFailed(server: String, call: String, underlying: RPCError)

    public var description: String {
        switch self {
        case .badURL(let url, let reason):
            return "bad Deephaven URL '\(url)': \(reason)"
        case .emptyPSK:
            return "no Deephaven pre-shared key: set DEEPHAVEN_PSK or pass --psk-file FILE"
        case .unreachable(let server, let underlying):
            return "cannot reach the Deephaven server at \(server): \(underlying.message)"
        case .wrongPSK(let server):
            return "the Deephaven server at \(server) refused the pre-shared key (check DEEPHAVEN_PSK or --psk-file)"
        case .sessionExpired(let server):
            return "the Deephaven server at \(server) ended our session (it restarted or the session expired)"
        case .pythonConsoleDisabled(let server, let types):
            let offered = types.isEmpty ? "none" : types.joined(separator: ", ")
            return "the Deephaven server at \(server) has no Python console enabled (console types: \(offered))"
        case .pluginMissing(let server, let detail):
            return "the Deephaven server at \(server) does not have the remote-file-source plugin installed "
                + "(pip install deephaven-plugin-python-remote-file-source in the server's Python, then restart it): \(detail)"
        case .consoleCommandFailed(let server, let step, let message):
            return "\(step) failed on the Deephaven server at \(server): \(message)"
        case .messageStreamEnded(let server, let reason):
            return "the plugin's message stream on \(server) ended: \(reason)"
        case .timedOut(let server, let step, let after):
            return "\(step) on the Deephaven server at \(server) took longer than \(after)"
        case .rpcFailed(let server, let call, let underlying):
            return "\(call) on the Deephaven server at \(server) failed: \(underlying.code): \(underlying.message)"
        }
    }

    /// The first call: its reply proves the key and carries the first bearer token.
    static let loginCall = "login (ConfigService/GetConfigurationConstants)"

    /// Maps a gRPC failure of `call` to what it means for the person: an unreachable server or a
    /// refused key get their own wording; anything else names the call.
    static func from(_ error: any Error, call: String, server: String) -> DeephavenError {
        if let error = error as? DeephavenError { return error }
        guard let rpc = error as? RPCError else {
            return .rpcFailed(server: server, call: call, underlying: RPCError(code: .unknown, message: "\(error)", cause: error))
        }
        switch rpc.code {
        case .unavailable:
            return .unreachable(server: server, underlying: rpc)
        case .deadlineExceeded where call == loginCall:
            return .unreachable(server: server, underlying: rpc)
        case .unauthenticated where call == loginCall:
            return .wrongPSK(server: server)
        case .unauthenticated:
            return .sessionExpired(server: server)
        default:
            return .rpcFailed(server: server, call: call, underlying: rpc)
        }
    }
}
#endif  // Deephaven
