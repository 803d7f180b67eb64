import RFSProtocol

/// Failures of the worker, with the context a user needs to act on them.
public enum WorkerError: Error, Sendable, CustomStringConvertible {
    case shuttingDown
    case pythonStartFailed(String)
    case listenFailed(address: String, reason: String)
    case handshakeRefused(String)
    /// `--metrics-listen` named an address other machines could reach; that listener has no token.
    case metricsListenNotLoopback(host: String)

    public var description: String {
        switch self {
        case .shuttingDown: "the worker is shutting down; the run was not started"
        case .pythonStartFailed(let reason): "could not start the embedded Python interpreter: \(reason)"
        case .listenFailed(let address, let reason): "could not listen on \(address): \(reason)"
        case .handshakeRefused(let reason): reason
        case .metricsListenNotLoopback(let host):
            "--metrics-listen must be a loopback address (127.0.0.1, ::1 or localhost), not \(host): it serves "
                + "/metrics without a token; from other machines, scrape /metrics on the main listener with a token"
        }
    }
}

extension WorkerError {
    /// How a failed `run` looks on the wire.
    var rpcError: JSONRPCError {
        switch self {
        case .shuttingDown: JSONRPCError(code: JSONRPCError.internalError, message: description, data: nil)
        default: .internalError(description)
        }
    }
}
