extension JSONRPCPeer {
    /// Limits and policies of one peer.
    public struct Configuration: Sendable {
        /// Timeout for ``JSONRPCPeer/request(_:params:timeout:)`` calls that pass none;
        /// `nil` waits for the reply (or for the peer to close) however long it takes.
        public var defaultRequestTimeout: Duration?
        /// Largest message, in UTF-8 bytes, sent or accepted (the protocol's default is 64 MiB;
        /// the transport normally enforces it first on inbound traffic).
        public var maxMessageSize: Int
        /// Deepest nesting of arrays and objects accepted in inbound JSON.
        public var maxNestingDepth: Int
        /// When `true`, the peer's own `-32700`/`-32600`/`-32601` replies carry the reason
        /// (parse position, which rule was broken, which method) in `data`. Off by default so
        /// replies are exactly the JSON-RPC spec's; the reason is always logged either way.
        public var detailedProtocolErrors: Bool

        public init(
            defaultRequestTimeout: Duration? = nil,
            maxMessageSize: Int = 64 * 1024 * 1024,
            maxNestingDepth: Int = JSONValue.defaultMaxNestingDepth,
            detailedProtocolErrors: Bool = false
        ) {
            self.defaultRequestTimeout = defaultRequestTimeout
            self.maxMessageSize = maxMessageSize
            self.maxNestingDepth = maxNestingDepth
            self.detailedProtocolErrors = detailedProtocolErrors
        }
    }
}
