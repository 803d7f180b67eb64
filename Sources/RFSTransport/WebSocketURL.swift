/// A parsed `ws://` / `wss://` URL: just what connecting needs, without pulling in Foundation.
struct WebSocketURL: Sendable, Equatable {
    /// The URL as the user wrote it, for error messages.
    var original: String
    var isSecure: Bool
    /// Host without IPv6 brackets, as passed to the resolver.
    var host: String
    var port: Int
    /// Path and query, as sent in the request line; at least `/`.
    var requestTarget: String

    /// The `Host` header value: brackets around IPv6 literals, port only when not the default.
    var hostHeader: String {
        let name = self.host.contains(":") ? "[\(self.host)]" : self.host
        let defaultPort = self.isSecure ? 443 : 80
        return self.port == defaultPort ? name : "\(name):\(self.port)"
    }

    init(parsing string: String) throws(WebSocketTransportError) {
        self.original = string
        let rest: Substring
        if let range = string.firstRange(of: "://") {
            switch string[..<range.lowerBound].lowercased() {
            case "ws": self.isSecure = false
            case "wss": self.isSecure = true
            default: throw .invalidURL(string, reason: "the scheme must be ws or wss")
            }
            rest = string[range.upperBound...]
        } else {
            throw .invalidURL(string, reason: "expected ws://host:port/path or wss://host:port/path")
        }

        let authorityEnd = rest.firstIndex(where: { $0 == "/" || $0 == "?" || $0 == "#" }) ?? rest.endIndex
        let authority = rest[..<authorityEnd]
        var target = rest[authorityEnd...]
        if let fragment = target.firstIndex(of: "#") {
            target = target[..<fragment]
        }
        self.requestTarget = target.isEmpty ? "/" : (target.hasPrefix("/") ? String(target) : "/" + target)

        guard !authority.contains("@") else {
            throw .invalidURL(string, reason: "credentials in the URL are not supported; use a token")
        }
        let hostPart: Substring
        let portPart: Substring?
        if authority.hasPrefix("[") {
            guard let close = authority.firstIndex(of: "]") else {
                throw .invalidURL(string, reason: "unterminated IPv6 address")
            }
            hostPart = authority[authority.index(after: authority.startIndex)..<close]
            let afterBracket = authority[authority.index(after: close)...]
            if afterBracket.isEmpty {
                portPart = nil
            } else if afterBracket.hasPrefix(":") {
                portPart = afterBracket.dropFirst()
            } else {
                throw .invalidURL(string, reason: "unexpected text after the IPv6 address")
            }
        } else if let colon = authority.lastIndex(of: ":") {
            hostPart = authority[..<colon]
            portPart = authority[authority.index(after: colon)...]
        } else {
            hostPart = authority
            portPart = nil
        }
        guard !hostPart.isEmpty else {
            throw .invalidURL(string, reason: "missing host")
        }
        self.host = String(hostPart)
        if let portPart {
            guard let port = Int(portPart), (1...65535).contains(port) else {
                throw .invalidURL(string, reason: "invalid port '\(portPart)'")
            }
            self.port = port
        } else {
            self.port = self.isSecure ? 443 : 80
        }
    }
}
