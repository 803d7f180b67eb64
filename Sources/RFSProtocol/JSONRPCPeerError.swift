/// Why a call made through a ``JSONRPCPeer`` failed without an error reply from the other side.
/// (An error *reply* is thrown as the ``JSONRPCError`` the other side sent.)
public enum JSONRPCPeerError: Error, Sendable, Hashable, CustomStringConvertible {
    /// No reply arrived within the timeout; `$/cancelRequest` has been sent for the request.
    case timedOut(method: String, after: Duration)
    /// The peer was closed (connection lost or shut down) before a reply arrived, or before
    /// the call was made.
    case closed(reason: String)
    /// An outbound message would exceed ``JSONRPCPeer/Configuration/maxMessageSize``; it was
    /// not sent.
    case messageTooLarge(size: Int, limit: Int)
    /// The other side answered the request with a message that is not a valid response
    /// (for example one carrying both `result` and `error`).
    case malformedResponse(method: String, reason: String)

    public var description: String {
        switch self {
        case .timedOut(let method, let after):
            return "request '\(method)' timed out after \(after)"
        case .closed(let reason):
            return "JSON-RPC peer closed: \(reason)"
        case .messageTooLarge(let size, let limit):
            return "message of \(size) bytes exceeds the limit of \(limit) bytes"
        case .malformedResponse(let method, let reason):
            return "malformed response to '\(method)': \(reason)"
        }
    }
}
