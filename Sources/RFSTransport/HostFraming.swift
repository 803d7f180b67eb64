import NIOCore
import NIOPosix

/// The framed channels between the worker daemon and its run hosts (DESIGN.md §6): each frame
/// is a 4-byte big-endian length and that many bytes of UTF-8 JSON text. A frame announced
/// longer than the limit closes the channel before any of it is buffered, so a host (which runs
/// arbitrary code) costs the daemon at most a few frames of memory.
public enum HostChannels {
    /// Wraps a connected socket (one end of a socketpair) as an async channel of frames. Its
    /// inbound stream reads only as fast as it is consumed (at most two frames ahead).
    public static func framed(
        socket: Int32, maxPayload: Int, group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton
    ) async throws -> NIOAsyncChannel<String, String> {
        try await ClientBootstrap(group: group)
            .withConnectedSocket(socket) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(HostFrameDecoder(maxPayload: maxPayload)))
                    try channel.pipeline.syncOperations.addHandler(MessageToByteHandler(HostFrameEncoder()))
                    return try NIOAsyncChannel<String, String>(
                        wrappingChannelSynchronously: channel,
                        configuration: .init(
                            backPressureStrategy: .init(lowWatermark: 1, highWatermark: 2),
                            isOutboundHalfClosureEnabled: false))
                }
            }
    }

    /// Wraps the read end of a pipe (a host's stdout or stderr) as an async channel of chunks.
    public static func pipeReader(
        descriptor: Int32, group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton
    ) async throws -> NIOAsyncChannel<ByteBuffer, Never> {
        try await NIOPipeBootstrap(group: group)
            .takingOwnershipOfDescriptor(input: descriptor) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try NIOAsyncChannel<ByteBuffer, Never>(
                        wrappingChannelSynchronously: channel,
                        configuration: .init(backPressureStrategy: .init(lowWatermark: 1, highWatermark: 4)))
                }
            }
    }
}

/// Host channel errors.
public enum HostChannelError: Error, Sendable, CustomStringConvertible {
    case frameTooLarge(length: Int, limit: Int)

    public var description: String {
        switch self {
        case .frameTooLarge(let length, let limit):
            "run host sent a frame of \(length) bytes, over the limit of \(limit)"
        }
    }
}

/// Length-prefixed frames → `String`s.
struct HostFrameDecoder: ByteToMessageDecoder {
    typealias InboundOut = String
    let maxPayload: Int

    mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        guard let length = buffer.getInteger(at: buffer.readerIndex, as: UInt32.self) else { return .needMoreData }
        guard Int(length) <= maxPayload else {
            throw HostChannelError.frameTooLarge(length: Int(length), limit: maxPayload)
        }
        guard buffer.readableBytes >= 4 + Int(length) else { return .needMoreData }
        buffer.moveReaderIndex(forwardBy: 4)
        let text = buffer.readString(length: Int(length)) ?? ""
        context.fireChannelRead(wrapInboundOut(text))
        return .continue
    }

    mutating func decodeLast(context: ChannelHandlerContext, buffer: inout ByteBuffer, seenEOF: Bool) throws -> DecodingState {
        while try decode(context: context, buffer: &buffer) == .continue {}
        return .needMoreData
    }
}

/// `String`s → length-prefixed frames.
struct HostFrameEncoder: MessageToByteEncoder {
    typealias OutboundIn = String

    func encode(data: String, out: inout ByteBuffer) throws {
        out.writeInteger(UInt32(data.utf8.count))
        out.writeString(data)
    }
}
