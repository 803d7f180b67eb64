/// The `id` of a JSON-RPC request, echoed in its response.
///
/// The spec allows strings and numbers (and discourages fractions). Numbers are kept as
/// `Int64`: a number id must be integral, so `7` and `7.0` are the same id (`.number(7)`) and
/// a fractional id such as `1.5` makes the message an Invalid Request. Every real client sends
/// integers or strings; refusing fractions keeps id matching exact instead of subject to
/// floating-point equality.
public enum JSONRPCID: Sendable, Hashable {
    case string(String)
    case number(Int64)
}

extension JSONRPCID {
    /// Reads an id from its JSON form; `nil` for `null`, fractional or out-of-range numbers and
    /// every other type.
    public init?(_ json: JSONValue) {
        switch json {
        case .string(let text):
            self = .string(text)
        case .int(let number):
            self = .number(number)
        case .double(let number):
            // `Int64(exactly:)` refuses fractions, infinities, NaN and out-of-range values.
            guard let integral = Int64(exactly: number) else { return nil }
            self = .number(integral)
        default:
            return nil
        }
    }

    /// The id as it is written in a message.
    public var jsonValue: JSONValue {
        switch self {
        case .string(let text): return .string(text)
        case .number(let number): return .int(number)
        }
    }
}

extension JSONRPCID: ExpressibleByIntegerLiteral {
    public init(integerLiteral value: Int64) { self = .number(value) }
}

extension JSONRPCID: ExpressibleByStringLiteral {
    public init(stringLiteral value: String) { self = .string(value) }
}

extension JSONRPCID: CustomStringConvertible {
    /// The id as JSON (`7` or `"7"`), so string and number ids stay distinguishable in logs.
    public var description: String { jsonValue.serialized() }
}
