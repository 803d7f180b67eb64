import NIOCore
import NIOHTTP1
import NIOPosix
import NIOWebSocket

/// A WebSocket client that does nothing on its own: no ping answers, no close handshake, no
/// reassembly. Tests use it to send frames our own client never would (binary, fragments,
/// invalid UTF-8, unmasked) and to observe the server's frames one by one.
final class RawWebSocket {
    private enum Upgrade: Sendable {
        case websocket(NIOAsyncChannel<WebSocketFrame, WebSocketFrame>)
        case notUpgraded
    }

    let channel: any Channel
    private var inbound: NIOAsyncChannelInboundStream<WebSocketFrame>.AsyncIterator
    private let outbound: NIOAsyncChannelOutboundWriter<WebSocketFrame>

    private init(
        channel: any Channel,
        inbound: NIOAsyncChannelInboundStream<WebSocketFrame>.AsyncIterator,
        outbound: NIOAsyncChannelOutboundWriter<WebSocketFrame>
    ) {
        self.channel = channel
        self.inbound = inbound
        self.outbound = outbound
    }

    /// Upgrades a connection to `127.0.0.1:port` and runs `body` with it; closes it afterwards.
    static func withConnection<Result: Sendable>(
        port: Int,
        token: String? = nil,
        path: String = "/v1/session",
        maxFrameSize: Int = 32 << 20,
        _ body: (RawWebSocket) async throws -> Result
    ) async throws -> Result {
        let upgrade: EventLoopFuture<Upgrade> = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connect(host: "127.0.0.1", port: port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    let upgrader = NIOTypedWebSocketClientUpgrader<Upgrade>(
                        maxFrameSize: maxFrameSize,
                        enableAutomaticErrorHandling: false,
                        upgradePipelineHandler: { channel, _ in
                            channel.eventLoop.makeCompletedFuture {
                                .websocket(
                                    try NIOAsyncChannel<WebSocketFrame, WebSocketFrame>(
                                        wrappingChannelSynchronously: channel
                                    )
                                )
                            }
                        }
                    )
                    var headers = HTTPHeaders()
                    headers.add(name: "Host", value: "127.0.0.1:\(port)")
                    if let token {
                        headers.add(name: "Authorization", value: "Bearer \(token)")
                    }
                    let head = HTTPRequestHead(version: .http1_1, method: .GET, uri: path, headers: headers)
                    var configuration = NIOUpgradableHTTPClientPipelineConfiguration(
                        upgradeConfiguration: NIOTypedHTTPClientUpgradeConfiguration(
                            upgradeRequestHead: head,
                            upgraders: [upgrader],
                            notUpgradingCompletionHandler: { channel in
                                channel.eventLoop.makeCompletedFuture { .notUpgraded }
                            }
                        )
                    )
                    configuration.leftOverBytesStrategy = .forwardBytes
                    return try channel.pipeline.syncOperations.configureUpgradableHTTPClientPipeline(
                        configuration: configuration
                    )
                }
            }
        guard case .websocket(let asyncChannel) = try await upgrade.get() else {
            throw TestFailure("the server did not upgrade the raw WebSocket connection")
        }
        return try await asyncChannel.executeThenClose { inbound, outbound in
            let raw = RawWebSocket(
                channel: asyncChannel.channel,
                inbound: inbound.makeAsyncIterator(),
                outbound: outbound
            )
            return try await body(raw)
        }
    }

    /// Sends one frame; client frames are masked unless a test wants to break that rule.
    func send(_ opcode: WebSocketOpcode, _ payload: ByteBuffer, fin: Bool = true, masked: Bool = true) async throws {
        try await self.outbound.write(
            WebSocketFrame(fin: fin, opcode: opcode, maskKey: masked ? .random() : nil, data: payload)
        )
    }

    func send(_ opcode: WebSocketOpcode, _ text: String, fin: Bool = true) async throws {
        try await self.send(opcode, ByteBuffer(string: text), fin: fin)
    }

    func nextFrame() async throws -> WebSocketFrame? {
        try await self.inbound.next()
    }

    /// The next text frame's payload, skipping pings and pongs.
    func expectText() async throws -> String {
        while let frame = try await self.nextFrame() {
            switch frame.opcode {
            case .text:
                return String(buffer: frame.unmaskedData)
            case .ping, .pong:
                continue
            default:
                throw TestFailure("expected a text frame, got \(frame.opcode)")
            }
        }
        throw TestFailure("connection closed before a text frame arrived")
    }

    /// Reads until the server's close frame, answers it, and returns its code; nil when the
    /// connection ended without a close frame.
    func expectClose() async throws -> UInt16? {
        while let frame = try await self.nextFrame() {
            guard frame.opcode == .connectionClose else { continue }
            var payload = frame.unmaskedData
            let code = payload.readInteger(as: UInt16.self)
            var reply = ByteBuffer()
            if let code {
                reply.writeInteger(code)
            }
            try? await self.send(.connectionClose, reply)
            return code
        }
        return nil
    }

    /// Closes the TCP connection without a close frame, like a crashed client.
    func dropConnection() async throws {
        try await self.channel.close()
    }
}
