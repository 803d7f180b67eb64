import RFSPython
import RFSProtocol

/// The worker's one execution context (``RFSPython/ExecutionContext``), as the wire carries it.
/// ``RunCoordinator`` owns the current one.
extension ExecutionContext {
    static let empty = ExecutionContext(connectionID: nil, topLevelNames: [])

    /// Reads the `context` member of `run` params: `{"connection_id": str|null, "top_level_names": [str]}`.
    init(runParameter value: JSONValue) throws(JSONRPCError) {
        guard case .object(let object) = value else {
            throw .invalidParams("run: 'context' must be an object")
        }
        let connectionID: String?
        switch object["connection_id"] {
        case nil, .null?:
            connectionID = nil
        case .string(let id)?:
            connectionID = id
        default:
            throw .invalidParams("run: 'context.connection_id' must be a string or null")
        }
        var topLevelNames: [String] = []
        switch object["top_level_names"] {
        case nil, .null?:
            break
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
        self.init(connectionID: connectionID, topLevelNames: topLevelNames)
    }
}
