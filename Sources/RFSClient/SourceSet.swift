import RFSModuleIndex
import RFSProtocol

/// The client's `--source` folders, searched in order like `sys.path` entries: the first folder
/// that has a name serves it.
public struct SourceSet: Sendable {
    public let indexes: [ModuleIndex]

    public init(indexes: [ModuleIndex]) {
        self.indexes = indexes
    }

    public init(directories: [String], excludes: [String] = []) throws {
        indexes = try directories.map { try ModuleIndex(root: $0, excludes: excludes) }
    }

    /// The top-level names announced in the run's execution context.
    public func topLevelNames() throws -> [String] {
        var seen = Set<String>()
        var names: [String] = []
        for index in indexes {
            for name in try index.topLevelNames() where seen.insert(name).inserted {
                names.append(name)
            }
        }
        return names.sorted()
    }

    /// The spec for `name` from the first folder that has it.
    public func lookup(_ name: String) throws -> ModuleSpec? {
        for index in indexes {
            if let spec = try index.lookup(name) { return spec }
        }
        return nil
    }
}

extension ModuleSpec {
    /// The `fetch_module` result of DESIGN.md §3.
    public var jsonValue: JSONValue {
        [
            "name": .string(name),
            "origin": origin.map(JSONValue.string) ?? .null,
            "is_package": .bool(isPackage),
            "submodule_search_locations": submoduleSearchLocations.map { .array($0.map(JSONValue.string)) } ?? .null,
            "source": source.map(JSONValue.string) ?? .null,
        ]
    }
}
