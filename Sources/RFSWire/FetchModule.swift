import RFSProtocol

/// `fetch_module` params: `{"module_name": "pkg.sub"}`.
public struct FetchModuleParams: Sendable, Equatable {
    public var moduleName: String

    public init(moduleName: String) {
        self.moduleName = moduleName
    }

    public init(json: JSONValue?) throws(JSONRPCError) {
        let reader = try WireReader(json, method: WireMethod.fetchModule)
        moduleName = try reader.string("module_name")
    }

    public var json: JSONValue { ["module_name": .string(moduleName)] }
}

/// A `fetch_module` result (DESIGN.md §3): `{"name","origin","is_package",
/// "submodule_search_locations","source"}`, plus `"prefetched": [result, …]` for a package when
/// the worker offered the `prefetch` capability. `null` (not found) is `Optional.none`.
///
/// The worker never decodes these: it forwards the client's reply verbatim to the run host,
/// whose Python finder reads it once. This type is how the client writes them.
public struct FetchModuleResult: Sendable, Equatable {
    public var name: String
    /// The client's absolute path of the file; nil for a namespace package.
    public var origin: String?
    public var isPackage: Bool
    public var submoduleSearchLocations: [String]?
    /// Decoded source text; nil for a namespace package.
    public var source: String?
    public var prefetched: [FetchModuleResult]

    public init(
        name: String, origin: String?, isPackage: Bool, submoduleSearchLocations: [String]?, source: String?,
        prefetched: [FetchModuleResult] = []
    ) {
        self.name = name
        self.origin = origin
        self.isPackage = isPackage
        self.submoduleSearchLocations = submoduleSearchLocations
        self.source = source
        self.prefetched = prefetched
    }

    public var json: JSONValue {
        var object: [String: JSONValue] = [
            "name": .string(name), "origin": .optional(origin), "is_package": .bool(isPackage),
            "submodule_search_locations": submoduleSearchLocations.map(JSONValue.strings) ?? .null,
            "source": .optional(source),
        ]
        if !prefetched.isEmpty { object["prefetched"] = .array(prefetched.map(\.json)) }
        return .object(object)
    }

    /// Bytes of source text in the reply (the module's and the prefetched ones').
    public var sourceBytes: Int {
        prefetched.reduce(source?.utf8.count ?? 0) { $0 + ($1.source?.utf8.count ?? 0) }
    }
}

/// The `fetch_module` error a client answers when the module exists but its source cannot be
/// served: undecodable, over the client's per-file size limit, unreadable. The `message` is the
/// whole explanation, naming the file, and the worker's finder raises it as the script's
/// `ImportError` word for word; `data` carries it as fields:
/// `{"path", "reason": "undecodable"|"too_large"|"unreadable", "line"?, "encoding"?, "size"?, "limit"?}`.
public enum FetchModuleFailure {
    public static let sourceUnavailableCode = -32010

    public static func sourceUnavailable(message: String, data: [String: JSONValue]) -> JSONRPCError {
        JSONRPCError(code: sourceUnavailableCode, message: message, data: .object(data))
    }
}
