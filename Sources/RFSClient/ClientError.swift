/// Client-side failures, each naming what failed and where.
public enum ClientError: Error, Sendable, CustomStringConvertible {
    case connectFailed(url: String, reason: String)
    case protocolMismatch(url: String, reason: String)
    case unexpectedReply(method: String, detail: String)
    case childWorkerFailed(String)
    case scriptUnreadable(path: String, reason: String)

    public var description: String {
        switch self {
        case .connectFailed(_, let reason): reason
        case .protocolMismatch(let url, let reason): "\(url): \(reason)"
        case .unexpectedReply(let method, let detail): "\(method): unexpected reply: \(detail)"
        case .childWorkerFailed(let reason): "local worker: \(reason)"
        case .scriptUnreadable(let path, let reason): "cannot read script \(path): \(reason)"
        }
    }
}
