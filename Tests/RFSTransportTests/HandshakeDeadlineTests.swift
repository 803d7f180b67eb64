import NIOCore
import NIOPosix
@testable import RFSTransport
import Testing

/// The client's handshake deadline (issue 10, the flaky `missingTokenIsRejectedWith401`).
@Suite struct HandshakeDeadlineTests {
    @Test("a finished handshake is not closed by its deadline when the connecting task resumes late")
    func deadlineDisarmedWhenHandshakeEnds() async throws {
        try await withServer(testServerConfiguration(token: AuthTests.token)) { server in
            let timeout = Duration.seconds(3)
            let handshake = ClientHandshake(
                url: try WebSocketURL(parsing: server.url), token: AuthTests.token, sslContext: nil,
                sessionConfiguration: .init(
                    role: .client, maxMessageSize: 1 << 20, pingInterval: nil, pongTimeout: .seconds(5), closeTimeout: .seconds(5)),
                timeout: timeout, logger: testLogger)
            // The deadline is armed after this instant, so it has passed by `armed + timeout`.
            let armed = NIODeadline.now()
            let pending = try await ClientBootstrap(group: TestLoops.group).connect(host: "127.0.0.1", port: server.port) { channel in
                channel.eventLoop.makeCompletedFuture { try handshake.configure(channel) }
            }
            // What a connecting task that resumes only after the deadline finds: wait on the
            // channel's own loop until the upgrade is done and the deadline is past.
            let loop = pending.channel.eventLoop
            _ = try await pending.upgrade.flatMap { _ in
                loop.scheduleTask(deadline: armed + TimeAmount(timeout) + .milliseconds(200)) {}.futureResult
            }.get()
            #expect(!pending.timedOut.withLockedValue { $0 })
            #expect(pending.channel.isActive, "the upgraded connection is still open")
            try await pending.channel.close()
        }
    }
}
