#if Deephaven
import Foundation

/// Where a Deephaven server is and how to log in: `http://host[:port]` (plaintext HTTP/2) or
/// `https://host[:port]` (TLS, checked against `caFile` when given, else the system's roots).
///
/// Validated once, when built from the command line's text, so every later step can rely on it.
public struct DeephavenEndpoint: Sendable, CustomStringConvertible {
    /// Deephaven's default port for `http://` URLs without one (deephaven-server's default).
    public static let defaultPlaintextPort = 10000

    public var host: String
    public var port: Int
    public var useTLS: Bool
    /// The pre-shared key of `io.deephaven.authentication.psk.PskAuthenticationHandler`.
    public var psk: String
    /// PEM file of the CA that signed an `https://` server's certificate.
    public var caFile: String?
    /// How long the first call may take to reach the server before `rfs` says it is unreachable.
    public var connectTimeout: Duration

    public init(url: String, psk: String, caFile: String? = nil, connectTimeout: Duration = .seconds(15)) throws(DeephavenError) {
        guard let components = URLComponents(string: url), let scheme = components.scheme?.lowercased(),
            let host = components.host, !host.isEmpty
        else {
            throw .badURL(url, reason: "expected http://HOST[:PORT] or https://HOST[:PORT]")
        }
        switch scheme {
        case "http": useTLS = false
        case "https": useTLS = true
        default: throw .badURL(url, reason: "the scheme must be http or https, not \(scheme)")
        }
        if let path = components.percentEncodedPath.nilIfEmpty, path != "/" {
            throw .badURL(url, reason: "a Deephaven URL has no path (got \(path))")
        }
        guard !psk.isEmpty else { throw .emptyPSK }
        if caFile != nil, !useTLS { throw .badURL(url, reason: "--ca-file needs an https:// URL") }
        self.host = host.hasPrefix("[") ? String(host.dropFirst().dropLast()) : host
        self.port = components.port ?? (useTLS ? 443 : Self.defaultPlaintextPort)
        self.psk = psk
        self.caFile = caFile
        self.connectTimeout = connectTimeout
    }

    public var url: String { "\(useTLS ? "https" : "http")://\(host.contains(":") ? "[\(host)]" : host):\(port)" }
    public var description: String { url }
}

extension String {
    fileprivate var nilIfEmpty: String? { isEmpty ? nil : self }
}
#endif  // Deephaven
