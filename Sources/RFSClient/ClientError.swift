/// Client-side failures, each naming what failed and where.
public enum ClientError: Error, Sendable, CustomStringConvertible {
    case connectFailed(url: String, reason: String)
    case protocolMismatch(url: String, reason: String)
    case unexpectedReply(method: String, detail: String)
    case childWorkerFailed(String)
    case scriptUnreadable(path: String, reason: String)
    /// The worker sent nothing, not even a pong, for `silence` (the keepalive gave up after its
    /// pong timeout): a frozen or unreachable worker.
    case workerStoppedAnswering(url: String, silence: Duration)

    public var description: String {
        switch self {
        case .connectFailed(_, let reason): reason
        case .protocolMismatch(let url, let reason): "\(url): \(reason)"
        case .unexpectedReply(let method, let detail): "\(method): unexpected reply: \(detail)"
        case .childWorkerFailed(let reason): "local worker: \(reason)"
        case .scriptUnreadable(let path, let reason): "cannot read script \(path): \(reason)"
        case .workerStoppedAnswering(let url, let silence):
            "worker \(url) stopped answering: no reply to keepalive pings for \(Self.seconds(silence)) s"
        }
    }
}

extension ClientError {
    /// `2`, `2.5`: seconds to one decimal, for messages.
    static func seconds(_ duration: Duration) -> String {
        let tenths = (duration.components.seconds * 10) + duration.components.attoseconds / 100_000_000_000_000_000
        return tenths % 10 == 0 ? "\(tenths / 10)" : "\(tenths / 10).\(tenths % 10)"
    }
}
