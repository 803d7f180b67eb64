import CLibFuzzer
import FuzzSupport
import Logging
import NIOCore
import NIOEmbedded
import NIOWebSocket
@testable import RFSTransport

// Fuzz target `websocket`: our `WebSocketSessionHandler` in the server role, behind NIO's
// `WebSocketFrameDecoder` as `NIOTypedWebSocketServerUpgrader` installs it, on an
// `EmbeddedChannel`; the input is the byte stream a client sends after the handshake.
//
// Input layout: the first byte is the size of the pieces the stream is delivered in (0: all at
// once), so frames split across reads are exercised too; the rest is the stream.
//
// Checked against `FrameStreamModel` (RFC 6455 and our rules, written independently):
// - exactly the model's text messages reach the application, none over the maximum message
//   size and all valid UTF-8 (their bytes must equal the model's, which validates UTF-8 itself);
// - exactly the model's frames are sent back (pongs, and one close frame with the right code on
//   a violation or an echo of the peer's close), unmasked, final, control payloads ≤ 125 bytes;
// - the recorded close status has the model's code, and once a close frame has been sent the
//   connection is gone after the close timeout;
// - no error escapes the handler to the end of the pipeline.

/// Small, so that the fuzzer reaches the size limits (one frame, and a fragmented message).
let maxMessageSize = 256
let closeTimeout = Duration.seconds(5)
let logger = Logger(label: "fuzz-websocket", factory: { _ in SwiftLogNoOpLogHandler() })

func checkSession(stream: [UInt8], pieceSize: Int) {
    var model = FrameStreamModel(maxMessageSize: maxMessageSize)
    model.consume(stream)
    let expected = model.outcome

    let connection = WebSocketConnectionState(remoteDescription: "fuzz")
    let handler = WebSocketSessionHandler(
        configuration: .init(
            role: .server, maxMessageSize: maxMessageSize, pingInterval: nil, pongTimeout: .seconds(20),
            closeTimeout: closeTimeout),
        connection: connection, logger: logger)
    let channel = EmbeddedChannel()
    do {
        try channel.pipeline.syncOperations.addHandlers([
            ByteToMessageHandler(WebSocketFrameDecoder(maxFrameSize: maxMessageSize)), handler,
        ])
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).wait()
    } catch {
        fail("could not set up the channel: \(error)")
    }

    var messages: [[UInt8]] = []
    var sent: [FrameStreamModel.SentFrame] = []
    var offset = 0
    // A closed connection receives nothing more.
    while offset < stream.count, channel.isActive {
        let end = offset + min(pieceSize, stream.count - offset)
        do {
            try channel.writeInbound(ByteBuffer(bytes: stream[offset..<end]))
        } catch {
            fail("error escaped the session handler: \(error)")
        }
        offset = end
        collect(channel, messages: &messages, sent: &sent)
    }

    for message in messages {
        require(message.count <= maxMessageSize, "a message of \(message.count) bytes was delivered (limit \(maxMessageSize))")
    }
    require(messages == expected.messages, "delivered \(messages.count) messages, the model \(expected.messages.count) (or their bytes differ)")
    require(sent == expected.sent, "sent \(sent), the model \(expected.sent)")
    let recorded = connection.closeStatus.map { UInt16(webSocketErrorCode: $0.code) }
    require(recorded == expected.closeCode, "recorded close code \(String(describing: recorded)), the model \(String(describing: expected.closeCode))")

    if expected.closeCode != nil {
        // After our close frame the peer gets the close timeout to answer, then it is dropped.
        channel.embeddedEventLoop.advanceTime(by: TimeAmount(closeTimeout))
        require(!channel.isActive, "connection still open \(closeTimeout) after the close frame")
    }
    _ = try? channel.finish(acceptAlreadyClosed: true)
}

/// Moves what the handler produced out of the channel: messages for the application, frames for
/// the peer (checked for the properties every outbound frame must have).
func collect(_ channel: EmbeddedChannel, messages: inout [[UInt8]], sent: inout [FrameStreamModel.SentFrame]) {
    do {
        while let message = try channel.readInbound(as: String.self) {
            messages.append(Array(message.utf8))
        }
        while let frame = try channel.readOutbound(as: WebSocketFrame.self) {
            require(frame.maskKey == nil, "the server masked a frame")
            require(frame.fin, "the server sent a fragment")
            let payload = Array(frame.unmaskedData.readableBytesView)
            switch frame.opcode {
            case .pong:
                require(payload.count <= 125, "pong payload of \(payload.count) bytes")
                sent.append(.pong(payload))
            case .connectionClose:
                require(payload.count <= 125, "close payload of \(payload.count) bytes")
                require(payload.count != 1, "close payload of 1 byte")
                if payload.count >= 2 {
                    require(FrameStreamModel.isValidUTF8(Array(payload.dropFirst(2))), "close reason is not UTF-8")
                }
                sent.append(.close(payload.count >= 2 ? UInt16(payload[0]) << 8 | UInt16(payload[1]) : nil))
            default:
                fail("the server sent an unexpected \(frame.opcode) frame")
            }
        }
    } catch {
        fail("the pipeline produced something of the wrong type: \(error)")
    }
}

/// One input, called by libFuzzer's driver.
@_cdecl("LLVMFuzzerTestOneInput")
func fuzzOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    guard size > 0 else { return 0 }
    let input = Array(UnsafeBufferPointer(start: data, count: size))
    checkSession(stream: Array(input.dropFirst()), pieceSize: input[0] == 0 ? Int.max : Int(input[0]))
    return 0
}

// Last: the driver never returns, and the globals above must be initialised first.
RFSFuzzMain(CommandLine.argc, CommandLine.unsafeArgv)
