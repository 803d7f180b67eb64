/// The application error codes of issue 10 (JSON-RPC 2.0 leaves -32000…-32099 to servers).
extension JSONRPCError {
    /// The request's token lacks the permission it needs, or a connection id it names belongs
    /// to another token. `message` is the whole explanation:
    /// `permission denied: token 'alice' may not run code (needs the run permission)`.
    public static let permissionDenied = -32001

    /// `-32001` with `message` as given (it names the token and what it may not do).
    public static func permissionDenied(_ message: String) -> JSONRPCError {
        JSONRPCError(code: permissionDenied, message: message)
    }
}
