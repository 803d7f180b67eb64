/// Byte streams a client could send after the WebSocket handshake, in the `websocket` target's
/// input layout: one byte giving the size of the pieces the stream is delivered in (0: all at
/// once), then the frames (RFC 6455 §5.2), masked as a client's must be.
enum WebSocketSeeds {
    enum Opcode: UInt8 {
        case continuation = 0x0, text = 0x1, binary = 0x2, close = 0x8, ping = 0x9, pong = 0xA
    }

    /// A frame; `maskKey` nil sends it unmasked (which a server must refuse).
    static func frame(
        _ opcode: Opcode, _ payload: [UInt8], fin: Bool = true, reserved: UInt8 = 0,
        maskKey: [UInt8]? = [0x37, 0xFA, 0x21, 0x3D]
    ) -> [UInt8] {
        var bytes: [UInt8] = [(fin ? 0x80 : 0) | (reserved << 4) | opcode.rawValue]
        let maskBit: UInt8 = maskKey == nil ? 0 : 0x80
        switch payload.count {
        case ..<126:
            bytes.append(maskBit | UInt8(payload.count))
        case ..<65536:
            bytes.append(maskBit | 126)
            bytes += [UInt8(payload.count >> 8), UInt8(payload.count & 0xFF)]
        default:
            bytes.append(maskBit | 127)
            bytes += (0..<8).reversed().map { UInt8((payload.count >> ($0 * 8)) & 0xFF) }
        }
        guard let maskKey else { return bytes + payload }
        return bytes + maskKey + payload.enumerated().map { $0.element ^ maskKey[$0.offset % 4] }
    }

    static func close(_ code: UInt16, _ reason: String = "") -> [UInt8] {
        frame(.close, [UInt8(code >> 8), UInt8(code & 0xFF)] + Array(reason.utf8))
    }

    /// Seeds from the protocol's messages (those within the target's 256-byte message limit).
    static func all(messages: [(name: String, text: String)]) -> [(name: String, bytes: [UInt8])] {
        var seeds: [(String, [UInt8])] = []
        let small = messages.filter { $0.text.utf8.count <= 256 }
        for (name, text) in small {
            // Whole, with a zero mask so the dictionary's tokens appear as they are.
            seeds.append(("text-\(name)", [0] + frame(.text, Array(text.utf8), maskKey: [0, 0, 0, 0])))
        }
        // One message in three fragments, delivered seven bytes at a time, between control frames.
        let message = Array(small[0].text.utf8)
        let third = message.count / 3
        seeds.append(("fragmented-with-ping", [7]
            + frame(.text, Array(message[..<third]), fin: false)
            + frame(.ping, Array("are you there".utf8))
            + frame(.continuation, Array(message[third..<(2 * third)]), fin: false)
            + frame(.pong, [0, 0, 0, 0, 0, 0, 0, 1])
            + frame(.continuation, Array(message[(2 * third)...]))
            + close(1000, "bye")))
        seeds.append(("close-going-away", [0] + close(1001, "shutting down")))
        seeds.append(("close-empty", [0] + frame(.close, [])))
        // Each violation the server answers with its own close code.
        seeds.append(("violation-binary", [0] + frame(.binary, [1, 2, 3])))
        seeds.append(("violation-unmasked", [0] + frame(.text, Array("{}".utf8), maskKey: nil)))
        seeds.append(("violation-reserved-bit", [0] + frame(.text, Array("{}".utf8), reserved: 0b100)))
        seeds.append(("violation-invalid-utf8", [0] + frame(.text, [0x7B, 0xC3, 0x28, 0x7D])))
        seeds.append(("violation-continuation-without-message", [0] + frame(.continuation, Array("x".utf8))))
        seeds.append(("violation-text-inside-message", [0]
            + frame(.text, Array("[1,".utf8), fin: false) + frame(.text, Array("2]".utf8))))
        // At the 256-byte limit of the target, and one byte over it.
        seeds.append(("message-at-size-limit", [0]
            + frame(.text, [UInt8](repeating: 0x61, count: 200), fin: false)
            + frame(.continuation, [UInt8](repeating: 0x62, count: 56))))
        seeds.append(("violation-message-too-big", [0]
            + frame(.text, [UInt8](repeating: 0x61, count: 200), fin: false)
            + frame(.continuation, [UInt8](repeating: 0x62, count: 57))))
        seeds.append(("frame-at-size-limit", [0] + frame(.text, [UInt8](repeating: 0x20, count: 256))))
        seeds.append(("violation-frame-too-big-16bit", [0] + frame(.text, [UInt8](repeating: 0x20, count: 300))))
        seeds.append(("violation-frame-length-64bit", [0] + [0x81, 0xFF, 0x7F, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF]))
        seeds.append(("violation-fragmented-ping", [0] + frame(.ping, [1], fin: false)))
        seeds.append(("violation-close-one-byte", [0] + frame(.close, [0x03])))
        seeds.append(("violation-close-code-1005", [0] + close(1005)))
        seeds.append(("violation-close-reason-utf8", [0] + frame(.close, [0x03, 0xE8, 0xFF])))
        seeds.append(("violation-reserved-opcode", [0] + [0x83, 0x80, 0, 0, 0, 0]))
        return seeds
    }
}
