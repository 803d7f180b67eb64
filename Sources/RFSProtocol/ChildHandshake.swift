/// The handshake between `rfs run` and the private worker it starts (DESIGN.md §3, contract).
///
/// The parent sets ``cookieVariable`` to ``cookieValue`` and ``versionsVariable`` to the
/// protocol versions it speaks; the child listens on loopback and prints one line,
/// `RFS|1|ws://127.0.0.1:<port>/v1/session|<token>`, to stdout. The cookie is not a secret: it
/// only tells a person who runs `rfs worker --handshake` by hand that this mode is not for them.
public enum ChildHandshake {
    public static let cookieVariable = "RFS_PLUGIN_COOKIE"
    public static let cookieValue = "7f3c2a91e4d04b6c9a1e5d8b2f6c0a37"
    public static let versionsVariable = "RFS_PROTOCOL_VERSIONS"
    public static let protocolVersion = 1

    /// The line the child prints once it listens.
    public static func line(url: String, token: String) -> String {
        "RFS|\(protocolVersion)|\(url)|\(token)"
    }

    /// Parses the child's line; `nil` when it is not a handshake line of a version we speak.
    public static func parse(_ line: String) -> (url: String, token: String)? {
        let parts = line.split(separator: "|", omittingEmptySubsequences: false)
        guard parts.count == 4, parts[0] == "RFS", parts[1] == "\(protocolVersion)",
            parts[2].hasPrefix("ws://") || parts[2].hasPrefix("wss://"), !parts[3].isEmpty
        else { return nil }
        return (String(parts[2]), String(parts[3]))
    }

    /// Checks the environment a child was started with; returns a one-line refusal or `nil`.
    public static func refusal(environment: [String: String]) -> String? {
        guard environment[cookieVariable] == cookieValue else {
            return "rfs worker --handshake is started by `rfs run` and not meant to be run by hand; "
                + "use `rfs worker --listen HOST:PORT` to run a worker yourself"
        }
        let offered = (environment[versionsVariable] ?? "").split(separator: ",").compactMap {
            Int($0.filter { $0 != " " })
        }
        guard offered.contains(protocolVersion) else {
            return "rfs worker --handshake: no common protocol version (parent offers "
                + "\(environment[versionsVariable] ?? "none"), worker speaks \(protocolVersion))"
        }
        return nil
    }
}
