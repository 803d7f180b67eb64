/// The rule every bearer token a worker accepts must satisfy, whether it comes from `RFS_TOKEN`,
/// `--token-file` or a tokens file: at least ``minimumLength`` characters, none of them
/// whitespace or control characters. A worker started with a token no client can send (`' '`)
/// or guess-able in a few tries (`abc`) is refused at start rather than silently unusable.
public enum TokenRules {
    public static let minimumLength = 16

    /// Why `token` is refused, as the end of a sentence ("… is refused: <problem>"); nil when
    /// it is acceptable. Never quotes the token itself: error messages end up in logs.
    public static func problem(with token: String) -> String? {
        let scalars = token.unicodeScalars
        if scalars.allSatisfy({ $0.properties.isWhitespace }) {
            return scalars.isEmpty ? "it is empty" : "it is made of whitespace"
        }
        if let bad = scalars.first(where: { $0.properties.isWhitespace || $0.properties.generalCategory == .control }) {
            let kind = bad.properties.isWhitespace ? "whitespace" : "a control character"
            return "it contains \(kind) (U+\(String(bad.value, radix: 16, uppercase: true)))"
        }
        if scalars.count < self.minimumLength {
            return "it has \(scalars.count) characters; at least \(self.minimumLength) are needed"
        }
        return nil
    }
}

/// The tokens a worker accepts, each with the principal it authenticates (usually read from a
/// tokens file, see ``TokensFile``). Immutable once made; checked on construction, so a table
/// in hand always satisfies ``TokenRules`` and has no duplicate token or name.
///
/// Lookup compares the presented token with *every* entry, each comparison in constant time
/// (``BearerToken/constantTimeEquals(_:_:)``), and selects the match without branching on it:
/// the time taken depends on the table, never on which token (if any) matched or how much of a
/// guess was right.
public struct TokenTable: Sendable {
    public struct Entry: Sendable {
        public var principal: Principal
        fileprivate var token: [UInt8]
    }

    public let entries: [Entry]

    /// - Throws: ``TokenTableError`` for an empty table, a token that breaks ``TokenRules``, or
    ///   a token or name given twice (entries are numbered from 1 in errors; ``TokensFile``
    ///   reports file lines instead).
    public init(_ tokens: [(principal: Principal, token: String)]) throws(TokenTableError) {
        guard !tokens.isEmpty else { throw .empty }
        var entries: [Entry] = []
        for (index, item) in tokens.enumerated() {
            if let problem = TokenRules.problem(with: item.token) {
                throw .weakToken(entry: index + 1, name: item.principal.name, problem: problem)
            }
            let bytes = Array(item.token.utf8)
            if let earlier = entries.firstIndex(where: { $0.token == bytes }) {
                throw .duplicateToken(entry: index + 1, earlierEntry: earlier + 1, name: item.principal.name)
            }
            if let earlier = entries.firstIndex(where: { $0.principal.name == item.principal.name }) {
                throw .duplicateName(entry: index + 1, earlierEntry: earlier + 1, name: item.principal.name)
            }
            entries.append(Entry(principal: item.principal, token: bytes))
        }
        self.entries = entries
    }

    public var principals: [Principal] { self.entries.map(\.principal) }

    /// The principal whose token equals `presented`, or nil. Every entry is compared in full.
    func principal(presenting presented: [UInt8]) -> Principal? {
        var matched = -1
        for (index, entry) in self.entries.enumerated() {
            // 1 when the difference is 0, else 0, computed without a branch; the mask is all
            // ones for a match, zero otherwise, and selecting with it does not branch either.
            let difference = Int(BearerToken.constantTimeDifference(presented, entry.token))
            let isMatch = ((difference &- 1) >> 8) & 1
            let mask = 0 &- isMatch
            matched = (index & mask) | (matched & ~mask)
        }
        return matched >= 0 ? self.entries[matched].principal : nil
    }
}

/// Why a ``TokenTable`` could not be made. Entries are numbered from 1.
public enum TokenTableError: Error, Sendable, Equatable, CustomStringConvertible {
    case empty
    case weakToken(entry: Int, name: String, problem: String)
    case duplicateToken(entry: Int, earlierEntry: Int, name: String)
    case duplicateName(entry: Int, earlierEntry: Int, name: String)

    public var description: String {
        switch self {
        case .empty:
            "no tokens"
        case .weakToken(let entry, let name, let problem):
            "token \(entry) ('\(name)') is refused: \(problem)"
        case .duplicateToken(let entry, let earlier, let name):
            "token \(entry) ('\(name)') is the same token as token \(earlier)"
        case .duplicateName(let entry, let earlier, let name):
            "token \(entry): the name '\(name)' is already used by token \(earlier)"
        }
    }
}
