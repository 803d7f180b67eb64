/// Everything that can go wrong in the transport, as values that name the URL, file or peer
/// involved, so that a CLI can print `description` as is.
public enum WebSocketTransportError: Error, Sendable, CustomStringConvertible {
    /// The URL is not a `ws://` or `wss://` URL we can connect to.
    case invalidURL(String, reason: String)
    /// The configuration cannot work (for example a size limit out of range).
    case invalidConfiguration(String)
    /// The server answered the upgrade with HTTP 401: missing or wrong token.
    case unauthorized(url: String)
    /// The server answered the upgrade with another non-101 status.
    case upgradeFailed(url: String, status: Int, detail: String)
    /// TCP connect (or DNS, or the connect timeout) failed.
    case connectFailed(url: String, underlying: String)
    /// The TLS handshake failed, e.g. an untrusted certificate or a hostname mismatch.
    case tlsFailed(url: String, underlying: String)
    /// A certificate, key or CA file could not be loaded.
    case tlsConfiguration(path: String, underlying: String)
    /// The server could not listen on the address.
    case bindFailed(host: String, port: Int, underlying: String)
    /// The session is closed (or closing), with the reason when known.
    case closed(remote: String, status: WebSocketCloseStatus?)
    /// An outbound message is larger than the session's `maxMessageSize`.
    case messageTooLarge(size: Int, limit: Int)
    /// `WebSocketServer.run()` was called more than once.
    case alreadyRunning

    public var description: String {
        switch self {
        case .invalidURL(let url, let reason):
            return "invalid WebSocket URL '\(url)': \(reason)"
        case .invalidConfiguration(let message):
            return "invalid WebSocket configuration: \(message)"
        case .unauthorized(let url):
            return "401: token rejected by \(url)"
        case .upgradeFailed(let url, let status, let detail):
            let suffix = detail.isEmpty ? "" : ": \(detail)"
            return "\(status): WebSocket upgrade refused by \(url)\(suffix)"
        case .connectFailed(let url, let underlying):
            return "cannot connect to \(url): \(underlying)"
        case .tlsFailed(let url, let underlying):
            return "TLS handshake with \(url) failed: \(underlying)"
        case .tlsConfiguration(let path, let underlying):
            return "cannot load TLS file \(path): \(underlying)"
        case .bindFailed(let host, let port, let underlying):
            return "cannot listen on \(host):\(port): \(underlying)"
        case .closed(let remote, let status):
            if let status {
                return "WebSocket session with \(remote) \(status)"
            }
            return "WebSocket session with \(remote) is closed"
        case .messageTooLarge(let size, let limit):
            return "message of \(size) bytes exceeds the limit of \(limit) bytes"
        case .alreadyRunning:
            return "WebSocketServer.run() was already called"
        }
    }
}
