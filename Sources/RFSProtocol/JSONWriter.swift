/// Compact JSON serialization into a UTF-8 byte buffer.
///
/// Used for ``JSONValue/serialized()`` and for the JSON-RPC envelopes, which need their members
/// in the JSON-RPC spec's order (`jsonrpc`, `method`/`result`/`error`, `params`, `id`) rather
/// than sorted, so the envelope writer emits the fixed parts as raw text around values.
///
/// Object keys inside values are sorted by their UTF-8 bytes (which is Unicode code point
/// order, the same order Python's `json.dumps(sort_keys=True)` uses) so that equal values
/// always serialize to equal text.
struct JSONWriter {
    private(set) var bytes: [UInt8] = []
    /// Most bytes the text may take. A value that would take it past the limit stops the writer
    /// before that string (or element) is copied, and ``exceeded`` is set: an oversized reply is
    /// found out without ever being built in full (see ``JSONRPCEncoder/encode(_:limit:)``).
    var limit = Int.max
    /// Set once a write would have passed ``limit``; the text is then incomplete.
    var exceeded: Bool { overLimit || bytes.count > limit }
    private var overLimit = false

    init(capacity: Int = 256) {
        bytes.reserveCapacity(capacity)
    }

    /// The text written so far.
    func makeString() -> String {
        String(decoding: bytes, as: UTF8.self)
    }

    /// Appends ASCII punctuation or a fixed member name such as `{"jsonrpc":"2.0",`.
    mutating func writeRaw(_ text: StaticString) {
        bytes.append(contentsOf: UnsafeBufferPointer(start: text.utf8Start, count: text.utf8CodeUnitCount))
    }

    /// Appends the text of an already serialized JSON value (used to join batch elements).
    mutating func writeSerialized(_ text: String) {
        bytes.append(contentsOf: text.utf8)
    }

    mutating func write(_ value: JSONValue) {
        guard !overLimit else { return }
        switch value {
        case .null:
            writeRaw("null")
        case .bool(let flag):
            flag ? writeRaw("true") : writeRaw("false")
        case .int(let number):
            write(number)
        case .double(let number):
            write(number)
        case .string(let text):
            write(text)
        case .array(let elements):
            bytes.append(ASCII.openBracket)
            for (position, element) in elements.enumerated() {
                if exceeded { return }
                if position > 0 { bytes.append(ASCII.comma) }
                write(element)
            }
            bytes.append(ASCII.closeBracket)
        case .object(let members):
            bytes.append(ASCII.openBrace)
            let ordered = members.sorted { $0.key.utf8.lexicographicallyPrecedes($1.key.utf8) }
            for (position, member) in ordered.enumerated() {
                if exceeded { return }
                if position > 0 { bytes.append(ASCII.comma) }
                write(member.key)
                bytes.append(ASCII.colon)
                write(member.value)
            }
            bytes.append(ASCII.closeBrace)
        }
    }

    mutating func write(_ number: Int64) {
        // `description` of an integer is a small string: no heap allocation.
        bytes.append(contentsOf: number.description.utf8)
    }

    /// Finite numbers use Swift's shortest round-tripping form (`0.1`, `1e+21`, `100.0`), which
    /// is valid JSON. JSON has no infinity or NaN; they are written as `null`, as JavaScript's
    /// `JSON.stringify` does, rather than producing text no peer could parse.
    mutating func write(_ number: Double) {
        guard number.isFinite else {
            writeRaw("null")
            return
        }
        bytes.append(contentsOf: number.description.utf8)
    }

    /// Writes a string literal, escaping only what JSON requires (`"`, `\` and control
    /// characters); everything else, including non-ASCII, is copied through as UTF-8 in runs.
    mutating func write(_ text: String) {
        guard !overLimit else { return }
        guard limit == .max || bytes.count + text.utf8.count + 2 <= limit else {
            overLimit = true
            return
        }
        let handled: Void? = text.utf8.withContiguousStorageIfAvailable { writeEscaped($0) }
        if handled == nil {
            let copy = Array(text.utf8)
            copy.withUnsafeBufferPointer { writeEscaped($0) }
        }
    }

    private mutating func writeEscaped(_ source: UnsafeBufferPointer<UInt8>) {
        let needed = bytes.count + source.count + 2
        guard needed <= limit else {
            // Escaping only adds bytes: this string cannot fit.
            overLimit = true
            return
        }
        if needed > bytes.capacity {
            // Grow geometrically ourselves: repeated exact reservations would be quadratic.
            bytes.reserveCapacity(Swift.max(needed, bytes.capacity * 2))
        }
        bytes.append(ASCII.quote)
        var runStart = 0
        for position in 0..<source.count {
            let byte = source[position]
            guard byte < 0x20 || byte == ASCII.quote || byte == ASCII.backslash else { continue }
            if runStart < position {
                bytes.append(contentsOf: UnsafeBufferPointer(rebasing: source[runStart..<position]))
            }
            runStart = position + 1
            bytes.append(ASCII.backslash)
            switch byte {
            case ASCII.quote: bytes.append(ASCII.quote)
            case ASCII.backslash: bytes.append(ASCII.backslash)
            case 0x08: bytes.append(ASCII.lowerB)
            case 0x0C: bytes.append(ASCII.lowerF)
            case ASCII.newline: bytes.append(ASCII.lowerN)
            case ASCII.carriageReturn: bytes.append(ASCII.lowerR)
            case ASCII.tab: bytes.append(ASCII.lowerT)
            default:
                writeRaw("u00")
                bytes.append(Self.hexDigits[Int(byte >> 4)])
                bytes.append(Self.hexDigits[Int(byte & 0x0F)])
            }
        }
        if runStart < source.count {
            bytes.append(contentsOf: UnsafeBufferPointer(rebasing: source[runStart..<source.count]))
        }
        bytes.append(ASCII.quote)
    }

    private static let hexDigits: [UInt8] = Array("0123456789abcdef".utf8)
}

extension JSONValue {
    /// Compact JSON text (no insignificant whitespace) with object keys sorted, so equal values
    /// serialize identically; `parse(serialized())` gives back an equal value for every value
    /// without NaN or infinity.
    public func serialized() -> String {
        var writer = JSONWriter()
        writer.write(self)
        return writer.makeString()
    }
}
