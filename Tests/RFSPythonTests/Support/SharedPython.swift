import Foundation
import Logging
import Synchronization
import Testing

@testable import RFSPython
import RFSWire

/// The test process's one interpreter (CPython cannot be initialised twice), started on first
/// use. Its request handler routes by connection id to handlers the tests register, so tests
/// stay independent while sharing it.
enum SharedPython {
    private static let started = Task { () throws -> PythonInterpreter in
        var logger = Logger(label: "rfs.python.tests")
        logger.logLevel = .warning
        let python = try await PythonInterpreter(configuration: .init(fetchTimeout: 10), logger: logger)
        python.requestHandler = { connectionID, method, paramsJSON, timeout in
            try await TestRouter.shared.handle(connectionID, method, paramsJSON, timeout)
        }
        return python
    }

    static func interpreter() async throws -> PythonInterpreter {
        try await started.value
    }
}

/// Per-connection request handlers for the shared interpreter.
final class TestRouter: Sendable {
    static let shared = TestRouter()
    /// Boxed: closures read out of a Mutex are re-wrapped on every read (see SendableBox).
    private let handlers = Mutex<[String: SendableBox<PythonInterpreter.RequestHandler>]>([:])

    func handle(_ connectionID: String, _ method: String, _ paramsJSON: String, _ timeout: Double?) async throws -> String {
        guard let handler = handlers.withLock({ $0[connectionID] })?.value else {
            throw BridgeRequestError.connectionLost("no connection '\(connectionID)'")
        }
        return try await handler(connectionID, method, paramsJSON, timeout)
    }

    /// Registers `handler` under a fresh connection id for the duration of `body`.
    func withConnection<T>(
        _ handler: @escaping PythonInterpreter.RequestHandler,
        _ body: (String) async throws -> T
    ) async rethrows -> T {
        let id = "test-\(UUID().uuidString)"
        handlers.withLock { $0[id] = SendableBox(handler) }
        defer { _ = handlers.withLock { $0.removeValue(forKey: id) } }
        return try await body(id)
    }
}

/// A JSON-RPC success response, as a handler returns it.
func jsonRPCResult(_ result: Any, id: Int = 1) -> String {
    let object: [String: Any] = ["jsonrpc": "2.0", "id": id, "result": result]
    let data = try! JSONSerialization.data(withJSONObject: object, options: [.fragmentsAllowed])
    return String(decoding: data, as: UTF8.self)
}

/// Decodes a handler's `params_json`.
func decodeParams(_ json: String) -> [String: Any] {
    (try? JSONSerialization.jsonObject(with: Data(json.utf8))) as? [String: Any] ?? [:]
}

/// A Python string literal for `text`.
func pyLiteral(_ text: String) -> String {
    let data = try! JSONSerialization.data(withJSONObject: text, options: [.fragmentsAllowed])
    return String(decoding: data, as: UTF8.self)
}
