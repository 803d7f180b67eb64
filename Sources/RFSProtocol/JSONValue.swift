/// A JSON document held in memory.
///
/// The protocol layer works on this value type instead of `Codable` models because JSON-RPC
/// messages are validated member by member (the spec's rules are about which members exist and
/// what type they have), and because method parameters and results are opaque to this layer.
///
/// Numbers keep the distinction JSON text makes: a number written without fraction or exponent
/// that fits in `Int64` is `.int`; every other number is `.double`. So `.int(1)` and
/// `.double(1.0)` are different values, as `1` and `1.0` are different texts.
public enum JSONValue: Sendable, Hashable {
    case null
    case bool(Bool)
    case int(Int64)
    case double(Double)
    case string(String)
    case array([JSONValue])
    case object([String: JSONValue])
}

extension JSONValue {
    /// The member `key` of an object; `nil` when this is not an object or has no such member.
    public subscript(key: String) -> JSONValue? {
        guard case .object(let members) = self else { return nil }
        return members[key]
    }

    /// The element at `index` of an array; `nil` when this is not an array or `index` is out of
    /// range (reading untrusted input must never trap).
    public subscript(index: Int) -> JSONValue? {
        guard case .array(let elements) = self, elements.indices.contains(index) else { return nil }
        return elements[index]
    }

    /// `true` only for `.null`.
    public var isNull: Bool {
        if case .null = self { return true }
        return false
    }

    /// The payload of `.bool`.
    public var boolValue: Bool? {
        if case .bool(let value) = self { return value }
        return nil
    }

    /// The payload of `.int`. A `.double` is not converted: use ``doubleValue`` to accept both.
    public var intValue: Int64? {
        if case .int(let value) = self { return value }
        return nil
    }

    /// Any number as a `Double` (an `.int` converts, possibly rounding beyond 2^53).
    public var doubleValue: Double? {
        switch self {
        case .int(let value): return Double(value)
        case .double(let value): return value
        default: return nil
        }
    }

    /// The payload of `.string`.
    public var stringValue: String? {
        if case .string(let value) = self { return value }
        return nil
    }

    /// The payload of `.array`.
    public var arrayValue: [JSONValue]? {
        if case .array(let value) = self { return value }
        return nil
    }

    /// The payload of `.object`.
    public var objectValue: [String: JSONValue]? {
        if case .object(let value) = self { return value }
        return nil
    }

    /// The name of this value's JSON type, for error messages ("params must be an object or
    /// array, got string").
    public var typeName: String {
        switch self {
        case .null: return "null"
        case .bool: return "boolean"
        case .int, .double: return "number"
        case .string: return "string"
        case .array: return "array"
        case .object: return "object"
        }
    }
}

extension JSONValue: CustomStringConvertible {
    /// The compact serialization, so values read well in logs and test failures.
    public var description: String { serialized() }
}
