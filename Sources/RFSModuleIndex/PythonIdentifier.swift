/// Python's `str.isidentifier()`: the first scalar is XID_Start or `_`, the rest are XID_Continue.
///
/// Only identifiers can be imported with `import a.b`, so only they are served. Keywords count as
/// identifiers (as in Python), because `importlib.import_module("class")` can still import them.
/// Pure-ASCII names, by far the common case, never touch Unicode property tables.
enum PythonIdentifier {
    static func isValid(_ text: some StringProtocol) -> Bool {
        var utf8 = text.utf8.makeIterator()
        guard let first = utf8.next() else { return false }
        var isASCII = first < 0x80
        if isASCII {
            guard isASCIIStart(first) else { return false }
            while let byte = utf8.next() {
                if byte >= 0x80 {
                    isASCII = false
                    break
                }
                guard isASCIIContinue(byte) else { return false }
            }
            if isASCII { return true }
        }
        return isValidUnicode(text.unicodeScalars)
    }

    private static func isValidUnicode(_ scalars: some Sequence<Unicode.Scalar>) -> Bool {
        var iterator = scalars.makeIterator()
        guard let first = iterator.next() else { return false }
        guard first == "_" || first.properties.isXIDStart else { return false }
        while let scalar = iterator.next() {
            guard scalar.properties.isXIDContinue else { return false }
        }
        return true
    }

    @inline(__always)
    private static func isASCIIStart(_ byte: UInt8) -> Bool {
        (byte >= 0x61 && byte <= 0x7A) || (byte >= 0x41 && byte <= 0x5A) || byte == 0x5F
    }

    @inline(__always)
    private static func isASCIIContinue(_ byte: UInt8) -> Bool {
        isASCIIStart(byte) || (byte >= 0x30 && byte <= 0x39)
    }
}

/// Splits a requested dotted module name into identifier components.
///
/// Returns `nil` for anything that cannot name a module: empty names, empty components (`a..b`,
/// `.a`, `a.`), and components that are not identifiers (which rules out `/`, `..`, NUL and every
/// other path trick before a name gets anywhere near the file system).
enum ModuleName {
    static func components(of name: String) -> [Substring]? {
        guard !name.isEmpty else { return nil }
        let parts = name.split(separator: ".", omittingEmptySubsequences: false)
        for part in parts where !PythonIdentifier.isValid(part) {
            return nil
        }
        return parts
    }
}
