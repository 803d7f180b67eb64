extension JSONRPCPeer {
    /// Limits and policies of one peer.
    ///
    /// The limits bound what the other side can make this peer hold, whatever it sends: inbound
    /// messages are at most ``maxMessageSize``; at most ``maxRequestsInFlight`` of its requests
    /// are handled (or their replies held) at once, each reply at most ``maxMessageSize``; a
    /// batch has at most ``maxBatchSize`` items and its whole reply is at most ``maxMessageSize``;
    /// notifications waiting for their handler hold at most ``maxQueuedNotificationBytes`` (plus
    /// one message). So the replies a peer builds for the other side cost at most
    /// `maxRequestsInFlight × maxMessageSize` in the worst case (a batch counts once per request
    /// but its reply shares one `maxMessageSize`). Every refusal is a `-32002` error
    /// (``JSONRPCError/limitExceeded``) whose message names the limit and its value, and is
    /// counted with ``RFSMetrics/reject(_:)``.
    public struct Configuration: Sendable {
        /// Timeout for ``JSONRPCPeer/request(_:params:timeout:)`` calls that pass none;
        /// `nil` waits for the reply (or for the peer to close) however long it takes.
        public var defaultRequestTimeout: Duration?
        /// Largest message, in UTF-8 bytes, sent or accepted (the protocol's default is 64 MiB;
        /// the transport normally enforces it first on inbound traffic). A reply, and a batch's
        /// whole reply, never exceeds it: what would is replaced by an error saying so.
        public var maxMessageSize: Int
        /// Deepest nesting of arrays and objects accepted in inbound JSON.
        public var maxNestingDepth: Int
        /// When `true`, the peer's own `-32700`/`-32600`/`-32601` replies carry the reason
        /// (parse position, which rule was broken, which method) in `data`. Off by default so
        /// replies are exactly the JSON-RPC spec's; the reason is always logged either way.
        public var detailedProtocolErrors: Bool
        /// Most items (requests, notifications, replies) in one inbound batch; default 64. A
        /// larger batch gets one `-32002` error reply (id `null`) and none of it is acted on.
        public var maxBatchSize: Int
        /// Most inbound requests handled at once: handlers running plus replies not yet handed
        /// to the transport (a batch's requests count until the batch's reply is sent); default
        /// 64. A request over it is answered `-32002` at once, without running its handler; it
        /// is never queued. `$/cancelRequest` and other notifications do not count.
        public var maxRequestsInFlight: Int
        /// Most bytes of inbound messages whose notifications wait for their handler (which
        /// runs them one at a time, in order); default 8 MiB. Over it, ``JSONRPCPeer/receive(_:)``
        /// returns only once the handler has caught up, so a transport that feeds the peer
        /// message by message stops reading (backpressure to the sender) instead of queueing.
        public var maxQueuedNotificationBytes: Int
        /// Most bytes of replies this peer's handlers hold at once, counted by what they reserve
        /// with ``JSONRPCPeer/reserveReplyBytes(_:)`` before building a reply, until the reply is
        /// handed to the transport; default 64 MiB. A handler over it waits (its request stays in
        /// flight); one reply larger than it goes alone. With ``maxRequestsInFlight`` this bounds
        /// what the other side can make the peer build: the reserved bytes plus small replies.
        public var maxReplyBytesHeld: Int

        public init(
            defaultRequestTimeout: Duration? = nil,
            maxMessageSize: Int = 64 * 1024 * 1024,
            maxNestingDepth: Int = JSONValue.defaultMaxNestingDepth,
            detailedProtocolErrors: Bool = false,
            maxBatchSize: Int = Configuration.defaultMaxBatchSize,
            maxRequestsInFlight: Int = Configuration.defaultMaxRequestsInFlight,
            maxQueuedNotificationBytes: Int = Configuration.defaultMaxQueuedNotificationBytes,
            maxReplyBytesHeld: Int = Configuration.defaultMaxReplyBytesHeld
        ) {
            self.defaultRequestTimeout = defaultRequestTimeout
            self.maxMessageSize = maxMessageSize
            self.maxNestingDepth = maxNestingDepth
            self.detailedProtocolErrors = detailedProtocolErrors
            self.maxBatchSize = maxBatchSize
            self.maxRequestsInFlight = maxRequestsInFlight
            self.maxQueuedNotificationBytes = maxQueuedNotificationBytes
            self.maxReplyBytesHeld = maxReplyBytesHeld
        }

        public static let defaultMaxBatchSize = 64
        public static let defaultMaxRequestsInFlight = 64
        public static let defaultMaxQueuedNotificationBytes = 8 << 20
        public static let defaultMaxReplyBytesHeld = 64 << 20
    }
}
