#if Deephaven
import Foundation
import Logging
import RFSClient
import RFSDeephavenProto
import Synchronization

/// `rfs` as a client of a Deephaven server's remote-file-source plugin: the steps behind
/// `rfs serve|run|info --deephaven URL`, each over one ``DeephavenSession``.
public struct DeephavenClient<Connector: DeephavenConnector>: Sendable {
    typealias Session = DeephavenSession<Connector.Transport>

    public let connector: Connector
    public var endpoint: DeephavenEndpoint { connector.endpoint }
    public let logger: Logger
    /// How long the plugin may take to acknowledge our connection id on a fresh stream.
    public var streamReadyTimeout: Duration = .seconds(20)
    /// How long after the script's command returns its last output may take to arrive.
    public var outputDrainTimeout: Duration = .seconds(30)
    /// Waits between reconnection attempts of `serve`: doubling from the first to the last.
    public var reconnectDelays: (first: Duration, last: Duration) = (.milliseconds(500), .seconds(5))

    public init(connector: Connector, logger: Logger) {
        self.connector = connector
        self.logger = logger
    }

    /// What a plugin attachment is known by, for the person and the logs.
    public struct Attachment: Sendable {
        public var connectionID: String
        public var variable: String
        public var serverVersion: String?
    }

    // MARK: serve

    /// Serves `sources` to the server's imports until cancelled: attaches (console, our own
    /// plugin object, its stream, our connection id, the execution context naming `names`), and
    /// when the server goes away (restart, lost session, closed stream) logs it and attaches again
    /// with growing waits. A failure of the first attachment is thrown: wrong key, no plugin,
    /// unreachable server. `attached` is called after each (re)attachment. Returns after `stop`
    /// is signalled and our plugin object is removed.
    public func serve(
        sources: SourceSet, names: [String], until stop: StopSignal,
        attached: @escaping @Sendable (Attachment, _ reconnected: Bool) -> Void
    ) async throws {
        var attachedOnce = false
        var delay = reconnectDelays.first
        while !stop.isStopped, !Task.isCancelled {
            let everAttached = Atomic<Bool>(false)
            do {
                try await Session.with(connector, logger: logger) { [self, attachedOnce] session in
                    try await withPlugin(session, sources: sources, names: names) { attachment, _ in
                        everAttached.store(true, ordering: .relaxed)
                        attached(attachment, attachedOnce)
                        await stop.wait()
                    }
                }
                return
            } catch {
                if Task.isCancelled || stop.isStopped { return }
                if everAttached.load(ordering: .relaxed) {
                    attachedOnce = true
                    delay = reconnectDelays.first
                }
                guard attachedOnce else { throw error }
                // One warning when the server goes away; each failed attempt after it at info.
                let justLost = everAttached.load(ordering: .relaxed)
                logger.log(
                    level: justLost ? .warning : .info,
                    justLost ? "lost the Deephaven server; reconnecting" : "reconnecting to the Deephaven server failed",
                    metadata: ["server": "\(endpoint.url)", "error": "\(error)", "retry_in": "\(delay)"])
                await stop.sleep(for: delay)
                delay = min(delay * 2, reconnectDelays.last)
            }
        }
    }

    // MARK: run

    /// Runs `code` as the script at `path` in a fresh console of the server, importing from
    /// `sources`; `output` gets its stdout and stderr as they arrive. Returns its exit status as
    /// `python path` would: the `SystemExit` code (0 for none), 1 for an uncaught exception
    /// (whose traceback `output` got on stderr).
    public func run(
        code: String, path: String, argv: [String], sources: SourceSet, names: [String],
        output: @escaping @Sendable (OutputFence.Stream, String) async -> Void
    ) async throws -> Int64 {
        let client = self
        return try await Session.with(connector, logger: logger) { session in
            try await client.withPlugin(session, sources: sources, names: names) { attachment, console in
                client.logger.info(
                    "running", metadata: ["script": "\(path)", "connection_id": "\(attachment.connectionID)", "server": "\(client.endpoint.url)"])
                return try await client.fenced(session: session, console: console, step: "running \(path)") { fence in
                    ConsoleScripts.run(code: code, path: path, argv: argv, fence: fence)
                } output: { stream, text in
                    await output(stream, text)
                }
            }
        }
    }

    // MARK: info

    /// What the server offers: its version, whether the plugin is installed, and the plugin
    /// objects in its console with their connection ids and names.
    public func info() async throws -> DeephavenInfo {
        let client = self
        return try await Session.with(connector, logger: logger) { session in
            let console = try await session.startPythonConsole()
            let collected = Mutex("")
            _ = try await client.fenced(session: session, console: console, step: "reading the plugin's state") { fence in
                ConsoleScripts.info(fence: fence)
            } output: { stream, text in
                if stream == .stdout { collected.withLock { $0 += text } }
            }
            let text = collected.withLock { $0 }
            return try DeephavenInfo(server: session.endpoint.url, version: session.serverVersion, report: text)
        }
    }

    // MARK: steps

    /// Attaches to the plugin in `session` and runs `body` while its stream is served; then
    /// clears our execution context and removes our plugin object, even when `body` threw or
    /// was cancelled. If the stream ends first, `body` is cancelled and the stream's error thrown.
    func withPlugin<Result: Sendable>(
        _ session: Session, sources: SourceSet, names: [String],
        body: @escaping @Sendable (Attachment, Deephaven_Ticket) async throws -> Result
    ) async throws -> Result {
        let console = try await session.startPythonConsole()
        let attachment = Attachment(
            connectionID: UUID().uuidString.lowercased(), variable: "__rfs_plugin_" + Self.randomHex(6),
            serverVersion: session.serverVersion)
        let created = try await session.execute(ConsoleScripts.createPlugin(variable: attachment.variable), in: console)
        if !created.errorMessage.isEmpty {
            throw Self.creationFailure(created.errorMessage, server: endpoint.url)
        }
        let (readySignal, ready) = AsyncStream<Void>.makeStream()
        let client = self
        do {
            let result = try await withThrowingTaskGroup(of: Result?.self) { group in
                group.addTask {
                    try await PluginStream.serve(
                        session: session, variable: attachment.variable, connectionID: attachment.connectionID,
                        sources: sources, logger: client.logger, ready: { ready.finish() })
                    return nil
                }
                group.addTask {
                    try await Deadline.run(client.streamReadyTimeout, step: "opening the plugin's message stream", server: client.endpoint.url) {
                        for await _ in readySignal {}
                    }
                    let context = try await session.execute(
                        ConsoleScripts.setExecutionContext(
                            variable: attachment.variable, connectionID: attachment.connectionID, names: names),
                        in: console)
                    if !context.errorMessage.isEmpty {
                        throw DeephavenError.consoleCommandFailed(
                            server: client.endpoint.url, step: "setting the execution context",
                            message: Self.lastLine(context.errorMessage))
                    }
                    return try await body(attachment, console)
                }
                defer { group.cancelAll() }
                while let outcome = try await group.next() {
                    if let outcome { return outcome }
                }
                throw CancellationError()
            }
            await dispose(attachment, console: console, session: session)
            return result
        } catch {
            await dispose(attachment, console: console, session: session)
            throw error
        }
    }

    /// Best effort, and not cancelled with the caller: a lost server makes it fail at once.
    private func dispose(_ attachment: Attachment, console: Deephaven_Ticket, session: Session) async {
        let logger = self.logger
        let server = endpoint.url
        await Task {
            do {
                try await Deadline.run(.seconds(10), step: "removing our plugin object", server: server) {
                    let reply = try await session.execute(ConsoleScripts.disposePlugin(variable: attachment.variable), in: console)
                    if !reply.errorMessage.isEmpty { logger.warning("removing our plugin object failed", metadata: ["error": "\(reply.errorMessage)"]) }
                }
            } catch {
                logger.debug("could not remove our plugin object", metadata: ["variable": "\(attachment.variable)", "error": "\(error)"])
            }
        }.value
    }

    /// Runs the command `make(fence)` builds and hands its fenced output to `output`, returning
    /// the status its end marker carries. The log is followed from before the command starts.
    func fenced(
        session: Session, console: Deephaven_Ticket, step: String, _ make: (OutputFence) -> String,
        output: @escaping @Sendable (OutputFence.Stream, String) async -> Void
    ) async throws -> Int64 {
        let fence = LockedFence(OutputFence(nonce: Self.randomHex(12)))
        let code = make(fence.initial)
        // Deephaven's log replays records newer than this; the fence, not the clock, decides
        // what is ours, so a generous margin only guards against clock skew.
        let since = Int64(Date().timeIntervalSince1970 * 1_000_000) - 600_000_000
        let follow = Task {
            try await session.followLogs(sinceMicros: since) { record -> Int64? in
                for action in fence.feed(level: record.logLevel, text: record.message) {
                    switch action {
                    case .write(let stream, let text): await output(stream, text)
                    case .finished(let status): return status
                    }
                }
                return nil
            }
        }
        let reply: Deephaven_ExecuteCommandResponse
        do {
            reply = try await withTaskCancellationHandler {
                try await session.execute(code, in: console)
            } onCancel: {
                follow.cancel()
            }
        } catch {
            follow.cancel()
            throw error
        }
        guard reply.errorMessage.isEmpty else {
            follow.cancel()
            throw DeephavenError.consoleCommandFailed(server: endpoint.url, step: step, message: Self.lastLine(reply.errorMessage))
        }
        return try await Deadline.run(outputDrainTimeout, step: "reading the output of \(step)", server: endpoint.url) {
            try await withTaskCancellationHandler { try await follow.value } onCancel: { follow.cancel() }
        }
    }

    static func creationFailure(_ message: String, server: String) -> DeephavenError {
        if message.contains("No module named"), message.contains("deephaven.python_remote_file_source") || message.contains("'deephaven'") {
            let line = message.split(separator: "\n").first { $0.contains("No module named") }.map(String.init) ?? lastLine(message)
            return .pluginMissing(server: server, detail: line.trimmingCharacters(in: .whitespaces))
        }
        return .consoleCommandFailed(server: server, step: "creating our plugin object", message: lastLine(message))
    }

    /// The Python exception line of a Deephaven error message (which may carry Java frames).
    static func lastLine(_ message: String) -> String {
        let lines = message.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        return lines.last { !$0.hasPrefix("at ") } ?? message
    }

    static func randomHex(_ bytes: Int) -> String {
        (0..<bytes).map { _ in String(format: "%02x", UInt8.random(in: 0...255)) }.joined()
    }
}

extension DeephavenClient where Connector == PosixDeephavenConnector {
    /// A client of a real server, over HTTP/2 (TLS for `https://`).
    public init(endpoint: DeephavenEndpoint, logger: Logger) {
        self.init(connector: PosixDeephavenConnector(endpoint: endpoint), logger: logger)
    }
}

/// The fence shared by the log follower's handler; its own lock, held only to feed one record.
final class LockedFence: Sendable {
    let initial: OutputFence
    private let state: Mutex<OutputFence>

    init(_ fence: OutputFence) {
        initial = fence
        state = Mutex(fence)
    }

    func feed(level: String, text: String) -> [OutputFence.Action] {
        state.withLock { $0.feed(level: level, text: text) }
    }
}

/// Runs an operation with a deadline, throwing ``DeephavenError/timedOut(server:step:after:)``.
enum Deadline {
    static func run<Value: Sendable>(
        _ limit: Duration, step: String, server: String, _ operation: @escaping @Sendable () async throws -> Value
    ) async throws -> Value {
        try await withThrowingTaskGroup(of: Value?.self) { group in
            group.addTask { try await operation() }
            group.addTask {
                try await Task.sleep(for: limit)
                return nil
            }
            defer { group.cancelAll() }
            guard let first = try await group.next(), let value = first else {
                throw DeephavenError.timedOut(server: server, step: step, after: limit)
            }
            return value
        }
    }
}
#endif  // Deephaven
