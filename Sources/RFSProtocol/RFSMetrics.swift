import CoreMetrics

/// The worker's metrics vocabulary: every metric's name and label values in one place, so the
/// code that counts (transport, JSON-RPC peer, sessions, runs, store) and the `/metrics` page
/// agree. Recorded through swift-metrics; without a bootstrapped backend (tests, the client)
/// recording costs a no-op call.
///
/// Names follow Prometheus conventions: `_total` for counters, base units in the name.
public enum RFSMetrics {
    /// Sessions currently open (gauge).
    public static let sessionsOpen = "rfs_sessions_open"
    /// Sessions opened since start (counter).
    public static let sessionsOpened = "rfs_sessions_opened_total"
    /// Runs finished, by `outcome` (counter); see ``RunOutcome``.
    public static let runs = "rfs_runs_total"
    /// Run duration in seconds (timer, exported as a histogram).
    public static let runDuration = "rfs_run_duration_seconds"
    /// Requests for the client's code answered, by `kind` (`fetch_module` or `tree_read`); see ``FetchKind``.
    public static let fetches = "rfs_fetches_total"
    /// Bytes of the client's code received in those answers, by `kind`.
    public static let fetchBytes = "rfs_fetch_bytes_total"
    /// Node-store lookups that found the blob already stored (counter).
    public static let storeHits = "rfs_store_hits_total"
    /// Node-store lookups that had to ask the client (counter).
    public static let storeMisses = "rfs_store_misses_total"
    /// Requests, messages or connections refused, by `reason` (counter); see ``Rejection``.
    public static let rejected = "rfs_rejected_total"

    /// Why something was refused: the `reason` label of ``rejected``.
    public enum Rejection: String, Sendable, CaseIterable {
        /// Missing or wrong bearer token on the upgrade (or `/metrics`) request.
        case unauthorized
        /// A valid token without the permission the request needs.
        case forbidden
        /// A connection id owned by another token.
        case connectionIDOwned = "connection_id_owned"
        /// A batch with more items than allowed.
        case batchTooLarge = "batch_too_large"
        /// More requests in flight on one session than allowed.
        case tooManyRequests = "too_many_requests"
        /// An inbound message over the maximum message size.
        case messageTooLarge = "message_too_large"
        /// A reply that would exceed the maximum message size (replaced by an error).
        case replyTooLarge = "reply_too_large"
        /// Not JSON.
        case parseError = "parse_error"
        /// JSON but not a valid JSON-RPC request.
        case invalidRequest = "invalid_request"
        /// An unknown method.
        case methodNotFound = "method_not_found"
    }

    /// Counts one refusal.
    public static func reject(_ reason: Rejection) {
        Counter(label: rejected, dimensions: [("reason", reason.rawValue)]).increment()
    }

    /// How a run ended: the `outcome` label of ``runs``.
    public enum RunOutcome: String, Sendable, CaseIterable {
        /// The script ran to its end.
        case ok
        /// The script raised SystemExit.
        case exit
        /// An exception escaped the script.
        case exception
        /// The run's host died (a signal, `os._exit`, killed for memory or after a cancel).
        case crashed
        /// Cancelled (`$/cancelRequest`, a closed session) before it could answer.
        case cancelled
        /// The worker could not run it (bad params, no host, shutting down).
        case error
    }

    /// What a run host asked the client for: the `kind` label of ``fetches`` and ``fetchBytes``.
    public enum FetchKind: String, Sendable, CaseIterable {
        /// `fetch_module`: one module's source (runs without a tree).
        case fetchModule = "fetch_module"
        /// `tree/read`: blobs of the run's tree that the node store lacks.
        case treeRead = "tree_read"
    }
}
