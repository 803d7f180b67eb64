/// What a token may do on a worker (issue 10, "Tokens and permissions"). The transport only
/// authenticates (token → ``Principal``); the worker's session checks these per method.
///
/// | permission | allows |
/// |---|---|
/// | `run` | `run` (execute code on the worker) |
/// | `serve` | `set_connection_id`, and so answering the worker's fetches for runs that name it |
/// | `info` | `request_plugin_info`, `/metrics` on the main listener |
/// | `admin` | everything above, and runs whose context names another token's connection id |
///
/// `initialize` is allowed to every authenticated token: it only describes the worker.
public struct Permissions: OptionSet, Sendable, Hashable, CustomStringConvertible {
    public let rawValue: UInt8

    public init(rawValue: UInt8) {
        self.rawValue = rawValue
    }

    public static let run = Permissions(rawValue: 1 << 0)
    public static let serve = Permissions(rawValue: 1 << 1)
    public static let info = Permissions(rawValue: 1 << 2)
    public static let admin = Permissions(rawValue: 1 << 3)

    /// Every permission: what the single `RFS_TOKEN` and `--no-auth` grant.
    public static let all: Permissions = [.run, .serve, .info, .admin]

    /// The names used in a tokens file, in this order in descriptions.
    public static let names: [(name: String, permission: Permissions)] = [
        ("run", .run), ("serve", .serve), ("info", .info), ("admin", .admin),
    ]

    /// Parses a tokens-file permission list such as `run,serve`; a failure names the first
    /// unknown or empty item.
    public static func parse(_ list: Substring) -> Result<Permissions, ParseFailure> {
        var permissions: Permissions = []
        for item in list.split(separator: ",", omittingEmptySubsequences: false) {
            guard let known = Self.names.first(where: { $0.name == item }) else {
                return .failure(ParseFailure(item: String(item)))
            }
            permissions.insert(known.permission)
        }
        return .success(permissions)
    }

    /// An item of a permission list that is not one of ``names``.
    public struct ParseFailure: Error, Sendable, Equatable {
        public var item: String
    }

    /// True when these permissions include `needed`; `admin` includes every other permission.
    public func allows(_ needed: Permissions) -> Bool {
        self.contains(.admin) || self.isSuperset(of: needed)
    }

    /// `run,serve`; `none` for the empty set.
    public var description: String {
        let listed = Self.names.filter { self.contains($0.permission) }.map(\.name)
        return listed.isEmpty ? "none" : listed.joined(separator: ",")
    }
}

/// Who is on the other end of an accepted connection: the name of the token it presented and
/// what that token may do. Names, not tokens, appear in logs and error messages, and a
/// connection id belongs to a name (so a client that reconnects with the same token may claim
/// its id again).
public struct Principal: Sendable, Hashable, CustomStringConvertible {
    public var name: String
    public var permissions: Permissions

    public init(name: String, permissions: Permissions) {
        self.name = name
        self.permissions = permissions
    }

    /// The single token of `RFS_TOKEN`/`--token-file` (and the private worker's generated one).
    public static let `default` = Principal(name: "default", permissions: .all)

    /// Everyone, on a worker started with `--no-auth` (loopback only).
    public static let anonymous = Principal(name: "anonymous", permissions: .all)

    /// True when this principal holds `needed` (``Permissions/allows(_:)``).
    public func may(_ needed: Permissions) -> Bool {
        self.permissions.allows(needed)
    }

    public var description: String { "\(self.name) (\(self.permissions))" }
}
