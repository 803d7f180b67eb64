import RFSProtocol

/// The one place where worker, run host and client learn the protocol: its version, the method
/// and capability names, and (in the other files of this module) the typed params and results of
/// every method of DESIGN.md §3 and §6, each with one decoder (`init(json:)`) and one encoder
/// (`json`).
///
/// Decoders take an already parsed `JSONValue` — a message is parsed once, by the peer that
/// received it — and throw `JSONRPCError.invalidParams` naming the method and the member that is
/// wrong, so a bad message gets a reply that says what to fix.
public enum WireProtocol {
    /// The version `initialize` negotiates (DESIGN.md §3).
    public static let version = 1
    /// Versions this build speaks, best first.
    public static let supportedVersions = [1]
}

/// Method names of the client ↔ worker protocol (DESIGN.md §3).
public enum WireMethod {
    public static let initialize = "initialize"
    public static let requestPluginInfo = "request_plugin_info"
    public static let setConnectionID = "set_connection_id"
    public static let run = "run"
    public static let fetchModule = "fetch_module"
    public static let output = "output"
    public static let cancelRequest = JSONRPCPeer.cancelRequestMethod
}

/// Names of the capabilities a worker offers in `initialize`.
public enum WireCapability {
    public static let batch = "batch"
    public static let cancel = "cancel"
    public static let output = "output"
    public static let namespacePackages = "namespace_packages"
    public static let fetchResultShapes = "fetch_result_shapes"
    /// `{"max_modules": N, "max_bytes": N}`: the client may attach the modules below a package to
    /// its `fetch_module` reply (`"prefetched"`).
    public static let prefetch = "prefetch"
    /// `{"mode": "run"|"session"|"shared", "max_runs": N}`: how the worker isolates runs (§6).
    public static let isolation = "isolation"
}

/// Reading members of params and results with errors that name the method and the member.
struct WireReader {
    let method: String
    let object: [String: JSONValue]

    init(_ value: JSONValue?, method: String, allowMissing: Bool = false) throws(JSONRPCError) {
        self.method = method
        switch value {
        case .object(let object)?: self.object = object
        case nil, .null? where allowMissing: self.object = [:]
        default: throw .invalidParams("\(method): params must be an object")
        }
    }

    func fail(_ member: String, _ expectation: String) -> JSONRPCError {
        .invalidParams("\(method): '\(member)' must be \(expectation)")
    }

    func has(_ member: String) -> Bool {
        switch object[member] {
        case nil, .null?: false
        default: true
        }
    }

    func string(_ member: String) throws(JSONRPCError) -> String {
        guard case .string(let value)? = object[member] else { throw fail(member, "a string") }
        return value
    }

    func optionalString(_ member: String) throws(JSONRPCError) -> String? {
        switch object[member] {
        case nil, .null?: return nil
        case .string(let value)?: return value
        default: throw fail(member, "a string or null")
        }
    }

    func int(_ member: String) throws(JSONRPCError) -> Int64 {
        guard case .int(let value)? = object[member] else { throw fail(member, "an integer") }
        return value
    }

    func optionalInt(_ member: String) throws(JSONRPCError) -> Int64? {
        switch object[member] {
        case nil, .null?: return nil
        case .int(let value)?: return value
        default: throw fail(member, "an integer or null")
        }
    }

    func optionalNumber(_ member: String) throws(JSONRPCError) -> Double? {
        switch object[member] {
        case nil, .null?: return nil
        case let value?:
            guard let number = value.doubleValue else { throw fail(member, "a number or null") }
            return number
        }
    }

    func bool(_ member: String, default defaultValue: Bool) throws(JSONRPCError) -> Bool {
        switch object[member] {
        case nil, .null?: return defaultValue
        case .bool(let value)?: return value
        default: throw fail(member, "a boolean")
        }
    }

    func optionalStrings(_ member: String) throws(JSONRPCError) -> [String]? {
        switch object[member] {
        case nil, .null?: return nil
        case .array(let items)?:
            var values: [String] = []
            values.reserveCapacity(items.count)
            for item in items {
                guard case .string(let value) = item else { throw fail(member, "an array of strings") }
                values.append(value)
            }
            return values
        default: throw fail(member, "an array of strings")
        }
    }
}

extension JSONValue {
    /// `.string` or `.null`.
    static func optional(_ text: String?) -> JSONValue {
        text.map(JSONValue.string) ?? .null
    }

    static func strings(_ texts: [String]) -> JSONValue {
        .array(texts.map(JSONValue.string))
    }
}
