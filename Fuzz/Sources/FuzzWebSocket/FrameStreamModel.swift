/// What RFC 6455 and our transport's rules say should come of a stream of bytes sent by a client
/// to the server: the oracle the `websocket` fuzz target checks `WebSocketSessionHandler` (behind
/// NIO's `WebSocketFrameDecoder`) against.
///
/// It is written from the rules, not from the handler's code: frames are parsed here byte by
/// byte, and each rule is one line below. The frame decoder's own limits (a frame over the
/// maximum size, a fragmented or over-long control frame) end the stream as NIO's decoder does:
/// it stops at the frame's header, before its payload arrives.
struct FrameStreamModel {
    /// What the server should have done.
    struct Outcome: Equatable {
        /// The text messages delivered to the application, in order.
        var messages: [[UInt8]] = []
        /// Frames the server should have sent, in order: pongs and at most one close frame.
        var sent: [SentFrame] = []
        /// The close code recorded as the reason the session ended (`nil` while it is open).
        var closeCode: UInt16?
    }

    enum SentFrame: Equatable, CustomStringConvertible {
        case pong([UInt8])
        /// A close frame with this code, or with no payload (`nil`, the echo of an empty close).
        case close(UInt16?)

        var description: String {
            switch self {
            case .pong(let payload): return "pong(\(payload.count) bytes)"
            case .close(let code): return "close(\(code.map(String.init) ?? "empty"))"
            }
        }
    }

    static let protocolError: UInt16 = 1002
    static let unsupportedData: UInt16 = 1003
    static let invalidPayload: UInt16 = 1007
    static let messageTooBig: UInt16 = 1009

    let maxMessageSize: Int
    private(set) var outcome = Outcome()
    private var state = State.open
    private var partial: [UInt8]?

    private enum State { case open, closeSent, closed }

    init(maxMessageSize: Int) {
        self.maxMessageSize = maxMessageSize
    }

    /// Runs the whole byte stream through the model.
    mutating func consume(_ bytes: [UInt8]) {
        var position = 0
        while state != .closed {
            switch Self.nextFrame(bytes, at: &position, maxFrameSize: maxMessageSize) {
            case .frame(let frame):
                receive(frame)
            case .decoderError(let code):
                // Ignored once closing, as in the handler; the decoder produces nothing after it.
                fail(code)
                return
            case .incomplete:
                return
            }
        }
    }

    // MARK: Frames

    struct Frame {
        var fin: Bool
        var reservedBits: Bool
        var opcode: UInt8
        var masked: Bool
        var payload: [UInt8]
    }

    enum Parsed {
        case frame(Frame)
        case decoderError(UInt16)
        case incomplete
    }

    /// One frame (RFC 6455 §5.2), with the decoder's checks as soon as the header is read.
    static func nextFrame(_ bytes: [UInt8], at position: inout Int, maxFrameSize: Int) -> Parsed {
        var cursor = position
        func take(_ count: Int) -> ArraySlice<UInt8>? {
            guard bytes.count - cursor >= count else { return nil }
            defer { cursor += count }
            return bytes[cursor..<(cursor + count)]
        }
        guard let header = take(2) else { return .incomplete }
        let first = header[header.startIndex], second = header[header.startIndex + 1]
        let masked = second & 0x80 != 0
        var length = UInt64(second & 0x7F)
        if length == 126 {
            guard let word = take(2) else { return .incomplete }
            length = word.reduce(0) { $0 << 8 | UInt64($1) }
        } else if length == 127 {
            guard let word = take(8) else { return .incomplete }
            length = word.reduce(0) { $0 << 8 | UInt64($1) }
            if length > UInt64(Int.max) { return .decoderError(messageTooBig) }
        }
        let isControl = first & 0x08 != 0
        let fin = first & 0x80 != 0
        if length > UInt64(maxFrameSize) { return .decoderError(messageTooBig) }
        if isControl && !fin { return .decoderError(protocolError) }
        if isControl && length > 125 { return .decoderError(protocolError) }
        var mask: [UInt8] = [0, 0, 0, 0]
        if masked {
            guard let key = take(4) else { return .incomplete }
            mask = Array(key)
        }
        guard let body = take(Int(length)) else { return .incomplete }
        position = cursor
        let payload = body.enumerated().map { $0.element ^ mask[$0.offset % 4] }
        return .frame(Frame(fin: fin, reservedBits: first & 0x70 != 0, opcode: first & 0x0F, masked: masked, payload: payload))
    }

    // MARK: Rules

    private mutating func receive(_ frame: Frame) {
        if state == .closeSent {
            // While waiting for the peer's close frame everything else is dropped.
            if frame.opcode == 0x8 { state = .closed }
            return
        }
        if frame.reservedBits { return fail(Self.protocolError) }  // no extension negotiated
        if !frame.masked { return fail(Self.protocolError) }  // client frames must be masked
        switch frame.opcode {
        case 0x1:  // text
            if partial != nil { return fail(Self.protocolError) }  // interleaved message
            if frame.fin { deliver(frame.payload) } else { partial = frame.payload }
        case 0x0:  // continuation
            guard var message = partial else { return fail(Self.protocolError) }
            if message.count + frame.payload.count > maxMessageSize { return fail(Self.messageTooBig) }
            message += frame.payload
            if frame.fin { partial = nil; deliver(message) } else { partial = message }
        case 0x2:  // binary
            fail(Self.unsupportedData)
        case 0x9:  // ping: answered with the same payload
            outcome.sent.append(.pong(frame.payload))
        case 0xA:  // pong
            break
        case 0x8:  // close
            peerClosed(frame.payload)
        default:  // reserved opcodes
            fail(Self.protocolError)
        }
    }

    private mutating func deliver(_ message: [UInt8]) {
        guard Self.isValidUTF8(message) else { return fail(Self.invalidPayload) }
        outcome.messages.append(message)
    }

    /// A close frame: an empty one is answered empty; otherwise a valid code (and a UTF-8
    /// reason) is echoed; anything else is a protocol error of its own.
    private mutating func peerClosed(_ payload: [UInt8]) {
        var code: UInt16?
        if payload.count == 1 { return fail(Self.protocolError) }
        if payload.count >= 2 {
            let number = UInt16(payload[0]) << 8 | UInt16(payload[1])
            guard Self.isValidCloseCode(number) else { return fail(Self.protocolError) }
            guard Self.isValidUTF8(Array(payload.dropFirst(2))) else { return fail(Self.invalidPayload) }
            code = number
        }
        outcome.closeCode = code ?? 1005
        outcome.sent.append(.close(code))
        state = .closed
    }

    private mutating func fail(_ code: UInt16) {
        guard state == .open else { return }
        state = .closeSent
        partial = nil
        outcome.closeCode = code
        outcome.sent.append(.close(code))
    }

    /// Codes a peer may send (RFC 6455 §7.4.1, plus 1012–1014 registered since, and 3000–4999).
    static func isValidCloseCode(_ code: UInt16) -> Bool {
        (1000...1003).contains(code) || (1007...1014).contains(code) || (3000...4999).contains(code)
    }

    static func isValidUTF8(_ bytes: [UInt8]) -> Bool {
        var iterator = bytes.makeIterator()
        var decoder = UTF8()
        while true {
            switch decoder.decode(&iterator) {
            case .scalarValue: continue
            case .emptyInput: return true
            case .error: return false
            }
        }
    }
}
