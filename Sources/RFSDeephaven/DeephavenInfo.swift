#if Deephaven
import RFSProtocol

/// What `rfs info --deephaven` reports: the server's version, whether its Python can import the
/// remote-file-source plugin, and every plugin object in its console's globals.
public struct DeephavenInfo: Sendable {
    public struct PluginObject: Sendable {
        public var variable: String
        public var connectionID: String?
        public var names: [String]
    }

    public var server: String
    public var version: String?
    public var pluginInstalled: Bool
    public var pluginVersion: String?
    public var pluginError: String?
    public var objects: [PluginObject]

    /// Parses the JSON line the info snippet printed (see ``ConsoleScripts/info(fence:)``).
    init(server: String, version: String?, report: String) throws {
        self.server = server
        self.version = version
        guard case .object(let object) = try JSONValue.parse(report.trimmingCharacters(in: .whitespacesAndNewlines)) else {
            throw DeephavenError.consoleCommandFailed(server: server, step: "reading the plugin's state", message: "unexpected report: \(report.prefix(200))")
        }
        pluginInstalled = object["plugin"] == .bool(true)
        if case .string(let text)? = object["plugin_version"] { pluginVersion = text }
        if case .string(let text)? = object["error"] { pluginError = text }
        var objects: [PluginObject] = []
        if case .array(let items)? = object["objects"] {
            for case .object(let item) in items {
                guard case .string(let variable)? = item["variable"] else { continue }
                var connectionID: String?
                if case .string(let id)? = item["connection_id"] { connectionID = id }
                var names: [String] = []
                if case .array(let values)? = item["names"] {
                    for case .string(let name) in values { names.append(name) }
                }
                objects.append(PluginObject(variable: variable, connectionID: connectionID, names: names))
            }
        }
        self.objects = objects
    }

    private func orNull(_ text: String?) -> JSONValue { text.map(JSONValue.string) ?? .null }

    public var json: JSONValue {
        .object([
            "server": .string(server), "version": orNull(version), "plugin_installed": .bool(pluginInstalled),
            "plugin_version": orNull(pluginVersion),
            "plugin_objects": .array(
                objects.map {
                    .object([
                        "variable": .string($0.variable), "connection_id": orNull($0.connectionID),
                        "names": .array($0.names.map(JSONValue.string)),
                    ])
                }),
        ])
    }
}
#endif  // Deephaven
