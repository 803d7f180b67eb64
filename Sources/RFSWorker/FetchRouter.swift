import Logging
import RFSProtocol
import RFSWire

/// Carries a run host's `host/fetch` to the client session that owns the connection id and
/// brings back the client's reply message as it arrived, for the host's finder to parse: the
/// daemon parses the reply once, and decides nothing about it but where it goes.
///
/// The one deadline of a fetch lives here: `--fetch-timeout`, or the finder's own timeout when
/// that is shorter.
struct FetchRouter: Sendable {
    let registry: SessionRegistry
    let fetchTimeout: Duration
    let metrics: WorkerMetrics
    let logger: Logger

    /// Whom a host may fetch for.
    enum Permission: Sendable {
        /// No run is using the host (a thread left over from an earlier run, say).
        case noRun
        /// The run in progress, whose context names this connection (or none), and who asked
        /// for it.
        case run(connectionID: String?, requester: RunRequester)
    }

    /// The reply frame for `host/fetch` request `id`: a run may only fetch through the
    /// connection its context names, so one client's script cannot read another's sources.
    func fetch(id: Int64, params: HostFetchParams, permission: Permission) async -> String {
        let refusal: String? =
            switch permission {
            case .noRun:
                "no run is using this host, so it may not fetch through connection '\(params.connectionID)'"
            case .run(let allowed?, _) where allowed == params.connectionID:
                nil
            case .run(let allowed?, _):
                "the run may only import through its own connection ('\(allowed)'), not '\(params.connectionID)'"
            case .run(nil, _):
                "the run's context names no connection, so it may not import through '\(params.connectionID)'"
            }
        if let refusal {
            return HostFetchReply.failure(id: id, .refused, message: refusal)
        }
        guard let entry = registry.entry(for: params.connectionID) else {
            return HostFetchReply.failure(
                id: id, .connectionLost,
                message: "no client session has connection id '\(params.connectionID)' (it disconnected or never connected)")
        }
        // The id may have been claimed by another token after the run started (RunRequester).
        if case .run(_, let requester) = permission, !requester.mayFetch(from: entry.owner) {
            RFSMetrics.reject(.connectionIDOwned)
            return HostFetchReply.failure(
                id: id, .refused,
                message: "connection id '\(params.connectionID)' belongs to another token than the run's ('\(requester.principal.name)')")
        }
        let peer = entry.peer
        var deadline = fetchTimeout
        if let seconds = params.timeout, seconds >= 0 {
            deadline = min(deadline, .milliseconds(Int64((seconds * 1000).rounded(.up))))
        }
        do {
            let reply = try await peer.requestVerbatim(params.method, params: params.params, timeout: deadline)
            if let kind = RFSMetrics.FetchKind(method: params.method) {
                metrics.fetched(kind, bytes: reply.text.utf8.count)
            }
            return HostFetchReply.success(id: id, clientReply: reply.text)
        } catch let error as JSONRPCPeerError {
            // What was asked, for the message: fetch_module names a module, tree/read a snapshot.
            let subject = params.params["module_name"]?.stringValue ?? params.params["snapshot"]?.stringValue.map { "of snapshot \($0)" }
            let what = "\(params.method)\(subject.map { " \($0)" } ?? "") to connection '\(params.connectionID)'"
            switch error {
            case .timedOut:
                return HostFetchReply.failure(id: id, .timeout, message: "\(what): no answer within \(Self.seconds(deadline)) s (--fetch-timeout)")
            case .closed:
                return HostFetchReply.failure(id: id, .connectionLost, message: "\(what): \(error)")
            default:
                return HostFetchReply.failure(id: id, .failed, message: "\(what): \(error)")
            }
        } catch is CancellationError {
            return HostFetchReply.failure(id: id, .failed, message: "\(params.method) was abandoned")
        } catch {
            return HostFetchReply.failure(id: id, .failed, message: "\(params.method) to connection '\(params.connectionID)': \(error)")
        }
    }

    private static func seconds(_ duration: Duration) -> String {
        let value = Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
        return value == value.rounded() ? String(Int(value)) : String(format: "%.3g", value)
    }
}

extension RFSMetrics.FetchKind {
    /// The kind of a fetch by its wire method; nil for any other method a host may relay.
    init?(method: String) {
        switch method {
        case WireMethod.fetchModule: self = .fetchModule
        case WireMethod.treeRead: self = .treeRead
        default: return nil
        }
    }
}
