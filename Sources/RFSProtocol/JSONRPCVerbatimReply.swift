/// The reply to a ``JSONRPCPeer/requestVerbatim(_:params:timeout:)`` call: the whole response
/// message as the other side sent it, for a caller that passes it on instead of reading it.
public struct JSONRPCVerbatimReply: Sendable, Hashable {
    /// The whole response message, e.g. `{"jsonrpc":"2.0","id":7,"result":{...}}`, byte for byte
    /// as received (whitespace and member order included). It has been validated as JSON and as
    /// a JSON-RPC response to the request; its `id` is the one this peer gave the request.
    public let text: String
    /// Whether it is an error reply (`error` member) rather than a result.
    public let isError: Bool

    /// Lets code that stands in for a peer (tests, a forwarder's fakes) make a reply.
    public init(text: String, isError: Bool) {
        self.text = text
        self.isError = isError
    }
}
