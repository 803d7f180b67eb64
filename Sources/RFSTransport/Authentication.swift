import NIOHTTP1

/// Who a ``WebSocketServer`` lets in, and as whom (DESIGN.md §3 "Authentication"; issue 10).
/// A missing or wrong token gets 401 and never upgrades in both token modes.
public enum Authentication: Sendable {
    /// Everyone, as ``Principal/anonymous``: only on loopback after the user opted in
    /// explicitly (see `isLoopback(host:)`); the server does not second-guess the caller.
    case none
    /// One bearer token, the principal ``Principal/default`` with every permission (`RFS_TOKEN`,
    /// `--token-file`, the private worker's generated token). Must satisfy ``TokenRules``.
    case token(String)
    /// Named tokens with their own permissions (a tokens file).
    case tokens(TokenTable)

    /// The principal of a request carrying `headers`; nil when it must be refused with 401.
    /// Token comparisons take the same time whether the header is missing, wrong or right.
    func principal(for headers: HTTPHeaders) -> Principal? {
        switch self {
        case .none:
            return .anonymous
        case .token(let token):
            return BearerToken.isAuthorized(headers, expected: token) ? .default : nil
        case .tokens(let table):
            // A missing header is compared as an empty token, so it costs what a wrong one does.
            return table.principal(presenting: BearerToken.presented(in: headers) ?? [])
        }
    }

    /// False for ``none``.
    public var requiresToken: Bool {
        if case .none = self { return false }
        return true
    }

    /// For logs: `none`, `bearer`, or `tokens (3)`.
    public var summary: String {
        switch self {
        case .none: "none"
        case .token: "bearer"
        case .tokens(let table): "tokens (\(table.entries.count))"
        }
    }
}
