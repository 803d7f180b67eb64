import RFSProtocol

/// `initialize` params: `{"protocol_versions":[1], "client":{"name","version"}}`, both optional.
public struct InitializeParams: Sendable, Equatable {
    public var protocolVersions: [Int]?
    public var clientName: String?
    public var clientVersion: String?

    public init(protocolVersions: [Int]? = WireProtocol.supportedVersions, clientName: String?, clientVersion: String?) {
        self.protocolVersions = protocolVersions
        self.clientName = clientName
        self.clientVersion = clientVersion
    }

    public init(json: JSONValue?) throws(JSONRPCError) {
        let reader = try WireReader(json, method: WireMethod.initialize, allowMissing: true)
        switch reader.object["protocol_versions"] {
        case nil, .null?:
            protocolVersions = nil
        case .array(let items)?:
            // Non-integers are ignored rather than refused: a newer client may offer "2.1".
            protocolVersions = items.compactMap { $0.intValue.flatMap { Int(exactly: $0) } }
        default:
            throw reader.fail("protocol_versions", "an array of integers")
        }
        clientName = reader.object["client"]?["name"]?.stringValue
        clientVersion = reader.object["client"]?["version"]?.stringValue
    }

    public var json: JSONValue {
        var object: [String: JSONValue] = [:]
        if let protocolVersions { object["protocol_versions"] = .array(protocolVersions.map { .int(Int64($0)) }) }
        if clientName != nil || clientVersion != nil {
            object["client"] = ["name": .optional(clientName), "version": .optional(clientVersion)]
        }
        return .object(object)
    }

    /// The version both sides speak; throws naming both lists when there is none. A client that
    /// names no versions speaks version 1 (the reference's clients never send `initialize`).
    public func negotiatedVersion() throws(JSONRPCError) -> Int {
        guard let offered = protocolVersions else { return WireProtocol.version }
        guard let version = WireProtocol.supportedVersions.first(where: offered.contains) else {
            throw .invalidParams(
                "initialize: no common protocol version (client offers \(offered), worker speaks \(WireProtocol.supportedVersions))")
        }
        return version
    }
}

/// How a worker runs scripts (DESIGN.md §6), as `--isolation` names it.
public enum IsolationMode: String, Sendable, CaseIterable {
    /// A fresh run host per run, gone when the run ends.
    case run
    /// One run host per client session; its state persists between that session's runs.
    case session
    /// One run host for every session: the reference plugin's semantics.
    case shared
}

/// What a worker offers in `initialize`.
public struct WorkerCapabilities: Sendable, Equatable {
    /// The most a client may prefetch in one reply; nil when the worker does not prefetch.
    public var prefetch: PrefetchOffer?
    public var isolation: IsolationMode?
    public var maxRuns: Int?
    /// Present when the worker takes manifests (DESIGN.md §7).
    public var tree: TreeOffer?

    public init(prefetch: PrefetchOffer?, isolation: IsolationMode?, maxRuns: Int?, tree: TreeOffer? = nil) {
        self.prefetch = prefetch
        self.isolation = isolation
        self.maxRuns = maxRuns
        self.tree = tree
    }

    public init(json: JSONValue?) {
        prefetch = PrefetchOffer(json: json?[WireCapability.prefetch])
        isolation = json?[WireCapability.isolation]?["mode"]?.stringValue.flatMap(IsolationMode.init(rawValue:))
        maxRuns = json?[WireCapability.isolation]?["max_runs"]?.intValue.flatMap { Int(exactly: $0) }
        tree = TreeOffer(json: json?[WireCapability.tree])
    }

    public var json: JSONValue {
        var object: [String: JSONValue] = [
            WireCapability.batch: true, WireCapability.cancel: true, WireCapability.output: true,
            WireCapability.namespacePackages: true, WireCapability.fetchResultShapes: ["spec", "filepath"],
        ]
        if let prefetch { object[WireCapability.prefetch] = prefetch.json }
        if let tree { object[WireCapability.tree] = tree.json }
        if let isolation {
            var offer: [String: JSONValue] = ["mode": .string(isolation.rawValue)]
            if let maxRuns { offer["max_runs"] = .int(Int64(maxRuns)) }
            object[WireCapability.isolation] = .object(offer)
        }
        return .object(object)
    }
}

/// The `prefetch` capability: `{"max_modules": N, "max_bytes": N}`.
public struct PrefetchOffer: Sendable, Equatable {
    public var maxModules: Int
    public var maxBytes: Int

    public init(maxModules: Int, maxBytes: Int) {
        self.maxModules = maxModules
        self.maxBytes = maxBytes
    }

    /// Anything but two positive integers (absent, malformed, a worker that predates prefetching)
    /// means no prefetching.
    public init?(json: JSONValue?) {
        guard let modules = json?["max_modules"]?.intValue, let bytes = json?["max_bytes"]?.intValue,
            modules > 0, bytes > 0
        else { return nil }
        self.init(maxModules: Int(clamping: modules), maxBytes: Int(clamping: bytes))
    }

    public var json: JSONValue {
        ["max_modules": .int(Int64(maxModules)), "max_bytes": .int(Int64(maxBytes))]
    }
}

/// `initialize` result: `{"protocol_version":1, "worker":{"name","version","python"}, "capabilities":{...}}`.
public struct InitializeResult: Sendable, Equatable {
    public var protocolVersion: Int
    public var workerName: String
    public var workerVersion: String
    public var python: String
    public var capabilities: WorkerCapabilities

    public init(protocolVersion: Int, workerName: String, workerVersion: String, python: String, capabilities: WorkerCapabilities) {
        self.protocolVersion = protocolVersion
        self.workerName = workerName
        self.workerVersion = workerVersion
        self.python = python
        self.capabilities = capabilities
    }

    /// Reads a worker's reply; `nil` protocol version means the worker did not agree on one.
    public init(json: JSONValue) throws(JSONRPCError) {
        let reader = try WireReader(json, method: "initialize result")
        protocolVersion = Int(clamping: try reader.int("protocol_version"))
        workerName = json["worker"]?["name"]?.stringValue ?? "unknown"
        workerVersion = json["worker"]?["version"]?.stringValue ?? "unknown"
        python = json["worker"]?["python"]?.stringValue ?? "unknown"
        capabilities = WorkerCapabilities(json: json["capabilities"])
    }

    public var json: JSONValue {
        [
            "protocol_version": .int(Int64(protocolVersion)),
            "worker": ["name": .string(workerName), "version": .string(workerVersion), "python": .string(python)],
            "capabilities": capabilities.json,
        ]
    }
}
