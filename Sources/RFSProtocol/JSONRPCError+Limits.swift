extension JSONRPCError {
    /// A limit of the receiving side was exceeded (too many requests in flight, a batch too
    /// large, a reply that would not fit): the request was not carried out, or its reply was
    /// dropped. The message names the limit and its value. Server-defined range of JSON-RPC 2.0.
    public static let limitExceeded = -32002

    /// `-32002` with `message` saying what exceeded which limit, e.g. `batch of 10000 requests
    /// exceeds the limit of 64 (max_batch_size)`.
    public static func limitExceeded(_ message: String) -> JSONRPCError {
        JSONRPCError(code: limitExceeded, message: message)
    }
}
