import Foundation
import RFSModuleIndex

@testable import RFSPython
import RFSWire

/// Serves `fetch_module` from an `RFSModuleIndex` over a folder, as the `rfs` client does:
/// decode `{"module_name": ...}`, `lookup`, encode the result (or `null`, or an error reply).
final class IndexServer: Sendable {
    let index: ModuleIndex
    let fetched = Watch<[String]>([])

    init(root: String) throws {
        index = try ModuleIndex(root: root)
    }

    /// `fixtures/workspace` of this repository.
    static func workspace() throws -> IndexServer {
        try IndexServer(root: fixturesDirectory + "/workspace")
    }

    static var fixturesDirectory: String {
        // Tests/RFSPythonTests/Support/IndexServer.swift → the repository root.
        URL(fileURLWithPath: #filePath)
            .deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("fixtures").path
    }

    var handler: PythonInterpreter.RequestHandler {
        { _, method, paramsJSON, _ in
            guard method == "fetch_module", let name = decodeParams(paramsJSON)["module_name"] as? String else {
                return Self.errorReply(code: -32601, message: "method not found: \(method)")
            }
            self.fetched.update { $0.append(name) }
            do {
                guard let spec = try self.index.lookup(name) else {
                    return jsonRPCResult(NSNull())
                }
                return jsonRPCResult([
                    "name": spec.name,
                    "origin": spec.origin ?? NSNull(),
                    "is_package": spec.isPackage,
                    "submodule_search_locations": spec.submoduleSearchLocations ?? NSNull(),
                    "source": spec.source ?? NSNull(),
                ] as [String: Any])
            } catch {
                return Self.errorReply(code: -32603, message: "\(error)")
            }
        }
    }

    static func errorReply(code: Int, message: String) -> String {
        let object: [String: Any] = ["jsonrpc": "2.0", "id": 1, "error": ["code": code, "message": message]]
        return String(decoding: try! JSONSerialization.data(withJSONObject: object), as: UTF8.self)
    }
}
