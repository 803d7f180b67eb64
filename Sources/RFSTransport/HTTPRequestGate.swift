import Logging
import NIOCore
import NIOHTTP1
import RFSProtocol

/// What the server does with one HTTP request (DESIGN.md §3 "Transport", "Authentication").
enum ServerRoute: Equatable, Sendable {
    /// `GET /healthz`: 200 `ok`, no token needed.
    case healthz
    /// `GET /metrics`, by a token with the `info` permission: 200 with the configured text
    /// (Prometheus exposition).
    case metrics
    /// `GET /metrics` with a valid token that lacks the `info` permission: 403.
    case forbidden
    /// An authorized WebSocket upgrade on the session path, by this principal.
    case upgrade(Principal)
    /// The session path without a valid `Authorization: Bearer` token: 401.
    case unauthorized
    /// The session path, authorized, but not a WebSocket upgrade: 426.
    case upgradeRequired
    /// A WebSocket upgrade the upgrader refused (bad key or version): 400.
    case badUpgrade
    case methodNotAllowed
    case notFound

    /// The principal of an upgrade route; nil for every other route.
    var principal: Principal? {
        if case .upgrade(let principal) = self { return principal }
        return nil
    }

    var status: HTTPResponseStatus {
        switch self {
        case .healthz, .metrics: return .ok
        case .upgrade: return .switchingProtocols
        case .unauthorized: return .unauthorized
        case .forbidden: return .forbidden
        case .upgradeRequired: return .upgradeRequired
        case .badUpgrade: return .badRequest
        case .methodNotAllowed: return .methodNotAllowed
        case .notFound: return .notFound
        }
    }

    var body: String {
        switch self {
        case .healthz: return "ok"
        case .upgrade, .metrics: return ""
        case .unauthorized: return "missing or wrong bearer token"
        case .forbidden: return "this token may not read metrics (needs the info permission)"
        case .upgradeRequired: return "expected a WebSocket upgrade"
        case .badUpgrade: return "invalid WebSocket upgrade request"
        case .methodNotAllowed: return "method not allowed"
        case .notFound: return "not found"
        }
    }

    /// The complete response for a request that is not upgraded; the connection closes after it.
    /// `text` replaces the route's own body (the metrics page).
    func response(isHead: Bool, text: String? = nil) -> (head: HTTPResponseHead, body: ByteBuffer?) {
        let body = text ?? self.body
        var headers = HTTPHeaders()
        // The Prometheus text exposition format announces its version in the content type.
        let contentType = self == .metrics ? "text/plain; version=0.0.4; charset=utf-8" : "text/plain; charset=utf-8"
        headers.add(name: "Content-Type", value: contentType)
        headers.add(name: "Content-Length", value: String(body.utf8.count))
        headers.add(name: "Connection", value: "close")
        switch self {
        case .unauthorized:
            headers.add(name: "WWW-Authenticate", value: "Bearer")
        case .upgradeRequired, .badUpgrade:
            headers.add(name: "Upgrade", value: "websocket")
            headers.add(name: "Sec-WebSocket-Version", value: "13")
        case .methodNotAllowed:
            headers.add(name: "Allow", value: "GET")
        case .healthz, .metrics, .upgrade, .notFound, .forbidden:
            break
        }
        let head = HTTPResponseHead(version: .http1_1, status: self.status, headers: headers)
        return (head, isHead ? nil : ByteBuffer(string: body))
    }
}

/// Decides routes from the request head alone; shared by the gate and the upgrader so both
/// apply the same rules.
struct ServerRouter: Sendable {
    var sessionPath: String
    var authentication: Authentication
    /// The text of `GET /metrics`; nil: 404.
    var metrics: (@Sendable () -> String)? = nil
    /// False for a listener that serves only `/metrics` and `/healthz` (the session path is 404).
    var acceptsSessions = true

    /// The principal of a request's token; nil means 401. Other routes that need a token (such
    /// as `/metrics`) check it here too, so there is one place that compares tokens.
    func authenticate(_ headers: HTTPHeaders) -> Principal? {
        self.authentication.principal(for: headers)
    }

    func route(_ head: HTTPRequestHead) -> ServerRoute {
        let path = head.uri.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
        if path == "/healthz" {
            return head.method == .GET || head.method == .HEAD ? .healthz : .methodNotAllowed
        }
        if path == "/metrics", self.metrics != nil {
            guard let principal = self.authenticate(head.headers) else { return .unauthorized }
            guard principal.may(.info) else { return .forbidden }
            return head.method == .GET || head.method == .HEAD ? .metrics : .methodNotAllowed
        }
        guard self.acceptsSessions, path == self.sessionPath else {
            return .notFound
        }
        // Authentication first: an unauthenticated client learns nothing else about the endpoint.
        guard let principal = self.authenticate(head.headers) else {
            return .unauthorized
        }
        guard head.method == .GET else {
            return .methodNotAllowed
        }
        let wantsWebSocket = head.headers[canonicalForm: "upgrade"].contains { $0.lowercased() == "websocket" }
        return wantsWebSocket ? .upgrade(principal) : .upgradeRequired
    }
}

/// Sits between the HTTP decoder and NIO's typed upgrade handler and answers every request that
/// must not upgrade (health check, 401, 404, ...) itself, before the upgrader sees it. Only
/// authorized WebSocket upgrade requests pass through. (The typed upgrade handler drops the
/// request head of an upgrade it refuses, so a "not upgraded" fallback could not tell a 401
/// from a 404; deciding here keeps the rules in one place and the token check before any
/// upgrade.) The connection closes after the response: one request per connection.
final class HTTPRequestGate: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias InboundOut = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private enum State {
        case awaitingHead
        case forwarding
        /// Swallowing the rest of a rejected request; respond once it has been read completely so
        /// that closing the socket does not reset the connection under the response.
        case rejecting(ServerRoute, isHead: Bool)
        case responded
    }

    private let router: ServerRouter
    private let logger: Logger
    private var state = State.awaitingHead

    init(router: ServerRouter, logger: Logger) {
        self.router = router
        self.logger = logger
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let part = Self.unwrapInboundIn(data)
        switch (self.state, part) {
        case (.awaitingHead, .head(let head)):
            let route = self.router.route(head)
            if case .upgrade = route {
                self.state = .forwarding
                context.fireChannelRead(data)
                return
            }
            self.log(route: route, head: head, context: context)
            self.state = .rejecting(route, isHead: head.method == .HEAD)
        case (.forwarding, _):
            context.fireChannelRead(data)
        case (.rejecting(let route, let isHead), .end):
            self.state = .responded
            self.respond(context: context, route: route, isHead: isHead)
        case (.rejecting, _), (.responded, _), (.awaitingHead, _):
            break
        }
    }

    /// Runs on the connection's event loop; the metrics text is rendered here, from memory
    /// (the registry's counters, under its lock), without I/O.
    private func respond(context: ChannelHandlerContext, route: ServerRoute, isHead: Bool) {
        let response = route.response(isHead: isHead, text: route == .metrics ? self.router.metrics?() : nil)
        context.write(Self.wrapOutboundOut(.head(response.head)), promise: nil)
        if let body = response.body {
            context.write(Self.wrapOutboundOut(.body(.byteBuffer(body))), promise: nil)
        }
        context.writeAndFlush(Self.wrapOutboundOut(.end(nil)))
            .assumeIsolated()
            .whenComplete { _ in context.close(promise: nil) }
    }

    private func log(route: ServerRoute, head: HTTPRequestHead, context: ChannelHandlerContext) {
        var metadata: Logger.Metadata = [
            "remote": "\(describe(context.channel.remoteAddress))",
            "method": "\(head.method)",
            "uri": "\(head.uri)",
            "status": "\(route.status.code)",
        ]
        if route == .unauthorized {
            metadata["reason"] = "missing or wrong bearer token"
            RFSMetrics.reject(.unauthorized)
            self.logger.notice("Refused WebSocket upgrade", metadata: metadata)
        } else if route == .forbidden {
            metadata["reason"] = "token lacks the info permission"
            RFSMetrics.reject(.forbidden)
            self.logger.notice("Refused metrics request", metadata: metadata)
        } else {
            self.logger.debug("Answered HTTP request", metadata: metadata)
        }
    }
}

@available(*, unavailable)
extension HTTPRequestGate: Sendable {}

/// `127.0.0.1:54321`, `[::1]:54321`: how logs and `remoteDescription` show a peer.
func describe(_ address: SocketAddress?) -> String {
    guard let address else { return "unknown peer" }
    switch address {
    case .v4:
        return "\(address.ipAddress ?? "?"):\(address.port ?? 0)"
    case .v6:
        return "[\(address.ipAddress ?? "?")]:\(address.port ?? 0)"
    case .unixDomainSocket:
        return address.pathname ?? "unix socket"
    }
}
