import Logging
import NIOCore
import NIOPosix
import RFSTransport

/// Quiet by default; `RFS_TEST_LOG=debug swift test` streams the transport's logs to stderr.
let testLogger: Logger = {
    var logger = Logger(label: "rfs.transport.test") { label in
        if let level = TestEnvironment.logLevel {
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        return SwiftLogNoOpLogHandler()
    }
    logger.logLevel = TestEnvironment.logLevel ?? .critical
    return logger
}()

enum TestEnvironment {
    static var logLevel: Logger.Level? {
        guard let value = getenv("RFS_TEST_LOG") else { return nil }
        return Logger.Level(rawValue: String(cString: value))
    }
}

/// A loopback server configuration with an ephemeral port and no keepalive, so that tests only
/// see pings they asked for. The pong timeout is long so a loaded machine cannot make a test
/// that expects a live session flaky; only tests that expect a drop shorten it.
func testServerConfiguration(
    token: String? = nil,
    tls: TLSFiles? = nil,
    maxMessageSize: Int = 64 << 20,
    pingInterval: Duration? = nil,
    pongTimeout: Duration = .seconds(60),
    handshakeTimeout: Duration = .seconds(60)
) -> WebSocketServerConfiguration {
    WebSocketServerConfiguration(
        host: "127.0.0.1",
        port: 0,
        authentication: token.map(Authentication.token) ?? .none,
        tls: tls,
        maxMessageSize: maxMessageSize,
        pingInterval: pingInterval,
        pongTimeout: pongTimeout,
        handshakeTimeout: handshakeTimeout
    )
}

/// Echoes every message back until the session ends.
@Sendable func echo(_ session: WebSocketSession) async {
    do {
        for try await message in session.messages {
            try await session.send(message)
        }
    } catch {
        // The session ended abnormally; nothing to echo any more.
    }
}

/// The event loops of the current test's server and clients.
///
/// Every test gets a loop of its own (``withServer`` sets it for its body) instead of sharing
/// `MultiThreadedEventLoopGroup.singleton`: in a debug build NIO masks and unmasks WebSocket
/// payloads byte by byte, so the tests that move megabytes (EchoTests) kept both shared loops
/// busy for seconds at a time under load, and a handshake of an unrelated test queued behind
/// that work past its 10 s deadline (the flaky `AuthTests.missingTokenIsRejectedWith401`,
/// issue 10). On a loop of its own, a test's handshake only competes for the CPU, like any
/// thread, never waits for another test's bytes.
enum TestLoops {
    @TaskLocal static var group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton
}

/// Binds a server on a new event loop of its own, runs it while `body` executes (clients made
/// with ``connect(to:token:maxMessageSize:)`` use that loop too), then shuts it down and waits
/// until `run()` has returned (every `onSession` finished), so no test leaves work behind.
@discardableResult
func withServer<Result: Sendable>(
    _ configuration: WebSocketServerConfiguration = testServerConfiguration(),
    onSession: @escaping @Sendable (WebSocketSession) async -> Void = echo,
    _ body: (WebSocketServer) async throws -> Result
) async throws -> Result {
    let loops = MultiThreadedEventLoopGroup(numberOfThreads: 1)
    do {
        let result = try await TestLoops.$group.withValue(loops) {
            try await runServer(configuration, onSession: onSession, body)
        }
        try await loops.shutdownGracefully()
        return result
    } catch {
        try? await loops.shutdownGracefully()
        throw error
    }
}

private func runServer<Result: Sendable>(
    _ configuration: WebSocketServerConfiguration,
    onSession: @escaping @Sendable (WebSocketSession) async -> Void,
    _ body: (WebSocketServer) async throws -> Result
) async throws -> Result {
    let server = try await WebSocketServer.bind(
        configuration: configuration, eventLoopGroup: TestLoops.group, logger: testLogger, onSession: onSession)
    return try await withThrowingTaskGroup(of: Void.self) { group in
        group.addTask { try await server.run() }
        let result: Result
        do {
            result = try await body(server)
        } catch {
            await server.shutdown()
            try? await group.waitForAll()
            throw error
        }
        await server.shutdown()
        try await group.waitForAll()
        return result
    }
}

/// Client configuration for `server` (plain `ws://127.0.0.1:<port>/v1/session`).
func clientConfiguration(
    for server: WebSocketServer,
    token: String? = nil,
    maxMessageSize: Int = 64 << 20
) -> WebSocketClientConfiguration {
    WebSocketClientConfiguration(url: server.url, token: token, maxMessageSize: maxMessageSize)
}

/// Connects to `server` and returns the session.
func connect(
    to server: WebSocketServer,
    token: String? = nil,
    maxMessageSize: Int = 64 << 20
) async throws -> WebSocketSession {
    try await WebSocketClient.connect(
        configuration: clientConfiguration(for: server, token: token, maxMessageSize: maxMessageSize),
        eventLoopGroup: TestLoops.group,
        logger: testLogger
    )
}

/// A one-shot mailbox for values produced inside `onSession` (which runs in the server's task)
/// and awaited by the test, instead of sleeping.
struct Mailbox<Value: Sendable>: Sendable {
    let stream: AsyncStream<Value>
    private let continuation: AsyncStream<Value>.Continuation

    init() {
        (self.stream, self.continuation) = AsyncStream.makeStream(of: Value.self)
    }

    func post(_ value: Value) {
        self.continuation.yield(value)
    }

    /// The next posted value (nil if the mailbox was finished).
    func next() async -> Value? {
        var iterator = self.stream.makeAsyncIterator()
        return await iterator.next()
    }
}

extension WebSocketMessages.AsyncIterator {
    /// The next message, failing the test if the session ends first. (A session's messages
    /// have a single iterator, so tests keep one and call this repeatedly.)
    mutating func expectMessage() async throws -> String {
        guard let message = try await self.next() else {
            throw TestFailure("session ended before a message arrived")
        }
        return message
    }

    /// Reads to the end and returns how the sequence ended: the error if it threw.
    mutating func drain() async -> (count: Int, error: (any Error)?) {
        var count = 0
        do {
            while try await self.next() != nil {
                count += 1
            }
            return (count, nil)
        } catch {
            return (count, error)
        }
    }
}

extension WebSocketSession {
    /// Drains `messages` (its one iterator) and returns how it ended.
    func drain() async -> (count: Int, error: (any Error)?) {
        var iterator = self.messages.makeAsyncIterator()
        return await iterator.drain()
    }
}

struct TestFailure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
