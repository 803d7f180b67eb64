import RFSProtocol

/// The worker's one execution context, as in the reference plugin: which client connection
/// serves imports right now, and for which top-level module names.
///
/// Owned by ``RunCoordinator``; a value so it can be handed around freely.
public struct ExecutionContext: Sendable, Equatable {
    public var connectionID: String?
    public var topLevelNames: [String]

    public init(connectionID: String?, topLevelNames: [String]) {
        self.connectionID = connectionID
        self.topLevelNames = topLevelNames
    }

    public static let empty = ExecutionContext(connectionID: nil, topLevelNames: [])

    /// Reads the `context` member of `run` params: `{"connection_id": str|null, "top_level_names": [str]}`.
    init(runParameter value: JSONValue) throws(JSONRPCError) {
        guard case .object(let object) = value else {
            throw .invalidParams("run: 'context' must be an object")
        }
        switch object["connection_id"] {
        case nil, .null?:
            connectionID = nil
        case .string(let id)?:
            connectionID = id
        default:
            throw .invalidParams("run: 'context.connection_id' must be a string or null")
        }
        switch object["top_level_names"] {
        case nil, .null?:
            topLevelNames = []
        case .array(let items)?:
            var names: [String] = []
            names.reserveCapacity(items.count)
            for item in items {
                guard case .string(let name) = item, !name.isEmpty else {
                    throw .invalidParams("run: 'context.top_level_names' must hold non-empty strings")
                }
                names.append(name)
            }
            topLevelNames = names
        default:
            throw .invalidParams("run: 'context.top_level_names' must be an array of strings")
        }
    }
}
