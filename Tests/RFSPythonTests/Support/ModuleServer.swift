import Foundation
import Synchronization

@testable import RFSPython
import RFSWire

/// A client-side module source for tests: answers `fetch_module` from a dictionary, the way a
/// client answers from its `RFSModuleIndex`, and records what was asked.
final class ModuleServer: Sendable {
    struct Module: Sendable {
        var origin: String
        var source: String
        var isPackage: Bool
    }

    private let modules: Mutex<[String: Module]>
    let fetched = Watch<[String]>([])

    /// `files` maps module names to sources; packages are the names given in `packages`.
    /// Origins are client paths under `root`.
    init(root: String = "/client/src", files: [String: String], packages: Set<String> = []) {
        var modules: [String: Module] = [:]
        for (name, source) in files {
            let path = name.replacingOccurrences(of: ".", with: "/")
            let isPackage = packages.contains(name)
            modules[name] = Module(
                origin: isPackage ? "\(root)/\(path)/__init__.py" : "\(root)/\(path).py",
                source: source,
                isPackage: isPackage
            )
        }
        self.modules = Mutex(modules)
    }

    func setSource(_ source: String, of name: String) {
        modules.withLock { $0[name]?.source = source }
    }

    /// The `fetch_module` result object for `name`, or nil when it is not served.
    func result(for name: String) -> [String: Any]? {
        guard let module = modules.withLock({ $0[name] }) else { return nil }
        let directory = (module.origin as NSString).deletingLastPathComponent
        return [
            "name": name,
            "origin": module.origin,
            "is_package": module.isPackage,
            "submodule_search_locations": module.isPackage ? [directory] as Any : NSNull(),
            "source": module.source,
        ]
    }

    var handler: PythonInterpreter.RequestHandler {
        { _, method, paramsJSON, _ in
            guard method == "fetch_module", let name = decodeParams(paramsJSON)["module_name"] as? String else {
                throw BridgeRequestError.failed("unexpected request \(method) \(paramsJSON)")
            }
            self.fetched.update { $0.append(name) }
            return jsonRPCResult(self.result(for: name) ?? NSNull())
        }
    }
}

extension PythonInterpreter {
    /// Runs `code` with the execution context set to `connection` and `names`.
    func run(
        _ code: String,
        connection: String,
        names: [String],
        filename: String = "/client/src/main.py",
        output: OutputRecorder
    ) async throws -> RunResult {
        try await run(
            code: code,
            filename: filename,
            argv: [filename],
            context: ExecutionContext(connectionID: connection, topLevelNames: names),
            output: output.callback
        )
    }
}

/// Resident set size of this process, from /proc/self/statm.
func residentBytes() -> Int {
    guard let text = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8) else { return 0 }
    let fields = text.split(separator: " ")
    guard fields.count > 1, let pages = Int(fields[1]) else { return 0 }
    return pages * Int(sysconf(Int32(_SC_PAGESIZE)))
}
