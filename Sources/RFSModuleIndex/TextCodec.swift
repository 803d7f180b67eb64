/// The source encodings the index can decode, looked up by the names Python accepts for them.
///
/// Python resolves a coding cookie with `codecs.lookup`: lower-case, runs of punctuation collapsed
/// to `_`, then its alias table. We do the same for the codecs people actually put in cookies;
/// any other name is an "unknown encoding" error, as it would be for a codec Python lacks.
enum TextCodec: String, Sendable {
    case utf8 = "utf-8"
    case latin1 = "latin-1"
    case ascii = "ascii"
    case cp1252 = "cp1252"

    /// Finds the codec for an encoding name as `codecs.lookup` would, or `nil` if unknown.
    init?(pythonName: String) {
        switch Self.normalize(pythonName) {
        case "utf_8", "u8", "utf", "utf8", "utf8_ucs2", "utf8_ucs4", "cp65001", "utf_8_sig":
            self = .utf8
        case "latin_1", "latin1", "latin", "l1", "iso8859_1", "iso_8859_1", "iso_8859_1_1987", "8859",
            "cp819", "csisolatin1", "ibm819", "iso8859", "iso_ir_100", "iso_latin_1":
            self = .latin1
        case "ascii", "646", "ansi_x3.4_1968", "ansi_x3_4_1968", "ansi_x3.4_1986", "cp367", "csascii",
            "ibm367", "iso646_us", "iso_646.irv_1991", "iso_ir_6", "us", "us_ascii":
            self = .ascii
        case "cp1252", "windows_1252", "1252":
            self = .cp1252
        default:
            return nil
        }
    }

    /// `encodings.normalize_encoding` after `codecs.lookup`'s lower-casing: ASCII letters, digits
    /// and `.` are kept, every run of anything else becomes one `_` (none at either end).
    static func normalize(_ name: String) -> String {
        var result: [UInt8] = []
        var pendingSeparator = false
        for byte in name.utf8 {
            let lower = (byte >= 0x41 && byte <= 0x5A) ? byte + 0x20 : byte
            let isKept =
                (lower >= 0x61 && lower <= 0x7A) || (lower >= 0x30 && lower <= 0x39) || lower == 0x2E
            if isKept {
                if pendingSeparator && !result.isEmpty { result.append(UInt8(ascii: "_")) }
                result.append(lower)
                pendingSeparator = false
            } else {
                pendingSeparator = true
            }
        }
        return String(decoding: result, as: UTF8.self)
    }

    /// Where and why decoding stopped.
    struct DecodingFailure: Error {
        var offset: Int
        var byte: UInt8
        var reason: String
    }

    /// Decodes `bytes` strictly; any byte the codec does not map is a failure (Python's
    /// `errors="strict"`).
    func decode(_ bytes: ArraySlice<UInt8>) throws(DecodingFailure) -> String {
        switch self {
        case .utf8: return try Self.decodeUTF8(bytes)
        case .ascii:
            if let index = bytes.firstIndex(where: { $0 >= 0x80 }) {
                throw DecodingFailure(
                    offset: index - bytes.startIndex, byte: bytes[index], reason: "ordinal not in range(128)")
            }
            return String(decoding: bytes, as: UTF8.self)
        case .latin1:
            return Self.decodeSingleByte(bytes) { Unicode.Scalar($0) }
        case .cp1252:
            if let index = bytes.firstIndex(where: { Self.cp1252Scalar($0) == nil }) {
                throw DecodingFailure(
                    offset: index - bytes.startIndex, byte: bytes[index], reason: "character maps to <undefined>")
            }
            return Self.decodeSingleByte(bytes) { Self.cp1252Scalar($0)! }
        }
    }

    private static func decodeUTF8(_ bytes: ArraySlice<UInt8>) throws(DecodingFailure) -> String {
        if let text = String(validating: bytes, as: UTF8.self) { return text }
        var parser = Unicode.UTF8.ForwardParser()
        var iterator = bytes.makeIterator()
        var offset = 0
        while true {
            switch parser.parseScalar(from: &iterator) {
            case .valid(let encoded):
                offset += encoded.count
            case .error(let length):
                let start = bytes.startIndex + offset
                let lead = bytes[start]
                let reason: String
                if (lead >= 0x80 && lead <= 0xC1) || lead >= 0xF5 {
                    reason = "invalid start byte"
                } else if start + length >= bytes.endIndex {
                    reason = "unexpected end of data"
                } else {
                    reason = "invalid continuation byte"
                }
                throw DecodingFailure(offset: offset, byte: bytes[start], reason: reason)
            case .emptyInput:
                // Validation failed above, so the parser must find the error before the end.
                throw DecodingFailure(offset: offset, byte: 0, reason: "invalid utf-8 sequence")
            }
        }
    }

    private static func decodeSingleByte(
        _ bytes: ArraySlice<UInt8>, _ scalar: (UInt8) -> Unicode.Scalar
    ) -> String {
        var utf8: [UInt8] = []
        utf8.reserveCapacity(bytes.count + bytes.count / 8)
        for byte in bytes {
            if byte < 0x80 {
                utf8.append(byte)
            } else {
                utf8.append(contentsOf: UTF8.encode(scalar(byte))!)
            }
        }
        return String(decoding: utf8, as: UTF8.self)
    }

    /// Windows-1252: Latin-1 except 0x80–0x9F, five of which are undefined (as in Python's cp1252).
    private static func cp1252Scalar(_ byte: UInt8) -> Unicode.Scalar? {
        guard byte >= 0x80 && byte <= 0x9F else { return Unicode.Scalar(byte) }
        let value = cp1252High[Int(byte - 0x80)]
        return value == 0 ? nil : Unicode.Scalar(value)
    }

    private static let cp1252High: [UInt16] = [
        0x20AC, 0, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021,
        0x02C6, 0x2030, 0x0160, 0x2039, 0x0152, 0, 0x017D, 0,
        0, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022, 0x2013, 0x2014,
        0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0, 0x017E, 0x0178,
    ]
}
