import RFSProtocol

extension JSONValue {
    /// Whether no number in this value is infinite. JSON has no infinity: the writer emits `null`
    /// for one (documented in `JSONWriter`), so only such values are expected to round-trip.
    /// (Parsing never yields NaN.)
    public var isFinite: Bool {
        switch self {
        case .double(let number): return number.isFinite
        case .array(let elements): return elements.allSatisfy(\.isFinite)
        case .object(let members): return members.values.allSatisfy(\.isFinite)
        case .null, .bool, .int, .string: return true
        }
    }
}
