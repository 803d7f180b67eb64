import NIOWebSocket

/// Why a WebSocket session ended, kept so that callers can log and react to the cause instead of
/// seeing only "the stream finished".
public struct WebSocketCloseStatus: Sendable, Equatable, CustomStringConvertible {
    /// Who ended the session.
    public enum Initiator: Sendable, Equatable {
        /// The local application: `WebSocketSession.close`, the server's `onSession` returning, or
        /// the server shutting down.
        case application
        /// The remote peer, with a close frame.
        case peer
        /// The local transport: a protocol violation by the peer (binary frame, oversized message,
        /// invalid UTF-8, ...), a missing pong, or a connection that dropped without a close frame.
        case transport
    }

    /// The close code. A connection that dropped without a close frame reports 1006 (abnormal
    /// closure, never sent on the wire); a close frame without a code reports 1005.
    public var code: WebSocketErrorCode
    /// The close reason sent or received, or a local explanation for 1006.
    public var reason: String
    public var initiator: Initiator
    /// Set when the keepalive dropped a peer that stopped answering: how long nothing at all had
    /// arrived from it (at least the pong timeout). Lets a client say "the worker went silent"
    /// rather than "the connection closed".
    public var silence: Duration?

    public init(code: WebSocketErrorCode, reason: String, initiator: Initiator, silence: Duration? = nil) {
        self.code = code
        self.reason = reason
        self.initiator = initiator
        self.silence = silence
    }

    /// A clean end: the application asked for it, or the peer said "normal closure" / "going away".
    /// Anything else makes `WebSocketSession.messages` throw so the cause is not lost.
    public var isNormal: Bool {
        switch self.initiator {
        case .application:
            return true
        case .peer, .transport:
            return self.code == .normalClosure || self.code == .goingAway
        }
    }

    public var description: String {
        let who: String
        switch self.initiator {
        case .application: who = "closed locally"
        case .peer: who = "closed by peer"
        case .transport: who = "closed by transport"
        }
        let text = self.reason.isEmpty ? self.code.name : "\(self.code.name): \(self.reason)"
        return "\(who) with \(UInt16(webSocketErrorCode: self.code)) (\(text))"
    }
}

extension WebSocketErrorCode {
    /// 1005: a close frame arrived without a status code (RFC 6455 §7.1.5; never sent).
    static let noStatusReceived = WebSocketErrorCode.unknown(1005)
    /// 1006: the connection ended without a close frame (RFC 6455 §7.1.5; never sent).
    static let abnormalClosure = WebSocketErrorCode.unknown(1006)

    /// A short human-readable name for logs and error descriptions.
    var name: String {
        switch self {
        case .normalClosure: return "normal closure"
        case .goingAway: return "going away"
        case .protocolError: return "protocol error"
        case .unacceptableData: return "unsupported data"
        case .dataInconsistentWithMessage: return "invalid payload data"
        case .policyViolation: return "policy violation"
        case .messageTooLarge: return "message too big"
        case .missingExtension: return "missing extension"
        case .unexpectedServerError: return "internal error"
        case .unknown(1005): return "no status received"
        case .unknown(1006): return "abnormal closure"
        case .unknown(let code): return "code \(code)"
        }
    }
}

/// Re-exported so that users of this module can name close codes (`.normalClosure`,
/// `.goingAway`, ...) without depending on NIOWebSocket themselves.
public typealias WebSocketErrorCode = NIOWebSocket.WebSocketErrorCode
