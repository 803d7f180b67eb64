import Logging
import RFSProtocol
import RFSTransport

/// A WebSocket client that speaks raw text, for testing the worker's wire behaviour: it sends
/// exactly the bytes a test writes and hands back exactly what the worker sends.
actor RawClient {
    private let session: WebSocketSession
    private let inbox = Inbox()
    private var nextID = 1000
    /// Every `fetch_module` the worker sent, by module name, in order.
    private(set) var fetched: [String] = []

    init(worker: TestWorker) async throws {
        try await self.init(url: worker.url, token: worker.token)
    }

    init(url: String, token: String?) async throws {
        session = try await WebSocketClient.connect(
            configuration: WebSocketClientConfiguration(url: url, token: token),
            logger: Logger(label: "raw-client"))
        let messages = session.messages
        let inbox = self.inbox
        Task {
            do {
                for try await message in messages { await inbox.push(message) }
                await inbox.finish(nil)
            } catch {
                await inbox.finish(error)
            }
        }
    }

    func send(_ text: String) async throws {
        try await session.send(text)
    }

    /// The next message from the worker as it came, unparsed; `nil` when the connection closed.
    func receiveText() async throws -> String? {
        try await inbox.next()
    }

    /// The next message from the worker, parsed; `nil` when the connection closed.
    func receive() async throws -> JSONValue? {
        guard let text = try await inbox.next() else { return nil }
        return try JSONValue.parse(text)
    }
    /// Sends a request and returns its reply, answering `fetch_module` from `modules` and
    /// collecting `output` notifications on the way.
    func call(
        _ method: String, params: JSONValue = .object([:]), modules: [String: JSONValue] = [:]
    ) async throws -> (reply: JSONValue, output: String) {
        nextID += 1
        let id = nextID
        try await send(
            JSONValue.object(["jsonrpc": "2.0", "id": .int(Int64(id)), "method": .string(method), "params": params])
                .serialized())
        var output = ""
        while let message = try await receive() {
            if message["id"] == .int(Int64(id)), message["method"] == nil {
                return (message, output)
            }
            if message["method"] == "output", let text = message["params"]?["text"]?.stringValue {
                output += text
            } else if message["method"] == "fetch_module", let requestID = message["id"] {
                let name = message["params"]?["module_name"]?.stringValue ?? ""
                fetched.append(name)
                let result = modules[name] ?? .null
                try await send(JSONValue.object(["jsonrpc": "2.0", "id": requestID, "result": result]).serialized())
            }
        }
        throw TestFailure("connection closed before the reply to \(method)")
    }

    /// Sends `run` with request id `id` and returns at once (the run goes on).
    func startRun(id: String, code: String, context: JSONValue? = nil) async throws {
        var params: [String: JSONValue] = ["code": .string(code)]
        if let context { params["context"] = context }
        try await send(
            JSONValue.object(["jsonrpc": "2.0", "id": .string(id), "method": "run", "params": .object(params)]).serialized())
    }

    /// Sends `$/cancelRequest` for request `id`.
    func cancel(_ id: String) async throws {
        try await send(JSONValue.object(["jsonrpc": "2.0", "method": "$/cancelRequest", "params": ["id": .string(id)]]).serialized())
    }

    /// Reads messages until one contains `marker` in its output; returns the output read.
    func output(until marker: String) async throws -> String {
        var output = ""
        while !output.contains(marker) {
            guard let message = try await receive() else { throw TestFailure("closed before '\(marker)' was printed") }
            output += message["params"]?["text"]?.stringValue ?? ""
        }
        return output
    }

    /// Reads messages until the reply to request `id` (leaving `fetch_module` requests
    /// unanswered); returns it with the output that came before it.
    func reply(to id: String) async throws -> (reply: JSONValue, output: String) {
        var output = ""
        while let message = try await receive() {
            if message["id"] == .string(id), message["method"] == nil { return (message, output) }
            if message["method"] == "output" { output += message["params"]?["text"]?.stringValue ?? "" }
        }
        throw TestFailure("connection closed before the reply to \(id)")
    }

    func close() async {
        await session.close(code: .normalClosure, reason: nil)
    }
}

/// Messages received and not yet read, and the one reader waiting for the next.
private actor Inbox {
    private var buffered: [String] = []
    private var ended: (any Error)??
    private var waiter: CheckedContinuation<String?, any Error>?

    func push(_ message: String) {
        if let waiter {
            self.waiter = nil
            waiter.resume(returning: message)
        } else {
            buffered.append(message)
        }
    }

    func finish(_ error: (any Error)?) {
        ended = .some(error)
        if let waiter {
            self.waiter = nil
            if let error { waiter.resume(throwing: error) } else { waiter.resume(returning: nil) }
        }
    }

    func next() async throws -> String? {
        if !buffered.isEmpty { return buffered.removeFirst() }
        if let ended {
            if let error = ended { throw error }
            return nil
        }
        return try await withCheckedThrowingContinuation { waiter = $0 }
    }
}
