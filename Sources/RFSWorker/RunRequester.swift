import RFSProtocol
import RFSTransport
import RFSWire

/// Who asked for a run, and the rule that keeps one token's runs from reading another token's
/// code (issue 10):
///
/// - A run's context may name a connection id that no session holds, or one its own token's
///   session holds. A run whose context names a connection id held by **another** token's
///   session is refused with -32001 (counted `connection_id_owned`) unless the runner has
///   `admin`. This applies to the context the run actually gets: its own `context`, its
///   session's connection id, or, with neither, the worker's current context (the reference's
///   "context stays set"), checked atomically where the executor picks it.
/// - At each fetch the owner is checked again (``mayFetch(from:)``): a connection id claimed by
///   another token *after* the run started does not serve the run either (the import fails
///   with a PermissionError). Without this, a run could name an id nobody holds yet and wait
///   for another user's `rfs serve --id` to claim it.
///
/// Under `--no-auth` or a single token every session is the same principal, so nothing here
/// ever refuses: the reference semantics are unchanged.
struct RunRequester: Sendable {
    let principal: Principal
    let registry: SessionRegistry

    /// Throws -32001 when `context` names a connection id another token's session holds and
    /// the runner is not `admin`.
    func authorize(_ context: ExecutionContext?) throws(JSONRPCError) {
        guard let connectionID = context?.connectionID, let owner = registry.owner(of: connectionID),
            !mayFetch(from: owner)
        else { return }
        RFSMetrics.reject(.connectionIDOwned)
        throw JSONRPCError.permissionDenied(
            "permission denied: token '\(principal.name)' may not run with connection id '\(connectionID)', "
                + "which belongs to another token (needs the admin permission)")
    }

    /// True when the run may import through a session of the principal named `owner`.
    func mayFetch(from owner: String) -> Bool {
        owner == principal.name || principal.may(.admin)
    }
}
