/// Why a text is not valid JSON, and where.
///
/// The peer turns this into a `-32700 Parse error` reply; the offset and reason go to the log
/// (and into the reply's `data` when detailed protocol errors are enabled), so a malformed
/// message from a worker or client can be diagnosed from one log line.
public struct JSONParseError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What the parser found wrong.
    public enum Reason: Sendable, Hashable {
        /// The text ended inside a value (or was empty).
        case unexpectedEndOfInput
        /// A byte that cannot start or continue the construct being read.
        case unexpectedCharacter(UInt8, expected: String)
        /// A number that does not follow JSON's grammar (`01`, `1.`, `-`, `1e`, `+1`, ...).
        case invalidNumber
        /// A backslash followed by something other than `" \ / b f n r t u`.
        case invalidEscape(UInt8)
        /// `\u` not followed by four hexadecimal digits.
        case invalidUnicodeEscape
        /// A UTF-16 surrogate escape without its partner; Swift strings cannot hold one.
        case unpairedSurrogate(UInt16)
        /// A raw control character (below U+0020) inside a string; JSON requires it escaped.
        case controlCharacterInString(UInt8)
        /// Something other than whitespace after the top-level value.
        case trailingContent
        /// Arrays and objects nested deeper than the parser's limit (protects the stack).
        case nestingTooDeep(limit: Int)
    }

    /// What went wrong.
    public var reason: Reason
    /// Byte offset into the UTF-8 text where the problem was found.
    public var offset: Int

    public init(_ reason: Reason, offset: Int) {
        self.reason = reason
        self.offset = offset
    }

    public var description: String {
        "invalid JSON at byte \(offset): \(reasonDescription)"
    }

    private var reasonDescription: String {
        switch reason {
        case .unexpectedEndOfInput:
            return "unexpected end of input"
        case .unexpectedCharacter(let byte, let expected):
            return "unexpected \(Self.describe(byte)), expected \(expected)"
        case .invalidNumber:
            return "invalid number"
        case .invalidEscape(let byte):
            return "invalid escape \\\(Self.describe(byte, quoted: false))"
        case .invalidUnicodeEscape:
            return "\\u must be followed by four hexadecimal digits"
        case .unpairedSurrogate(let unit):
            return "unpaired UTF-16 surrogate \\u\(String(unit, radix: 16, uppercase: true))"
        case .controlCharacterInString(let byte):
            return "unescaped control character \(Self.describe(byte)) in string"
        case .trailingContent:
            return "unexpected content after the JSON value"
        case .nestingTooDeep(let limit):
            return "arrays and objects nested deeper than \(limit) levels"
        }
    }

    /// A byte as `'x'` when it is printable ASCII, else as `0xNN`.
    private static func describe(_ byte: UInt8, quoted: Bool = true) -> String {
        if (0x21...0x7E).contains(byte) {
            let character = String(UnicodeScalar(byte))
            return quoted ? "'\(character)'" : character
        }
        let hex = String(byte, radix: 16, uppercase: true)
        return "0x" + (hex.count == 1 ? "0" + hex : hex)
    }
}
