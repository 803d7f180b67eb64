/// The two output forms of `rfs list`, kept in the library so they can be tested without
/// spawning the binary.
public enum ModuleListRendering {
    /// The `--json` form (DESIGN.md §4): a JSON array, in the given order, of objects with keys in
    /// the order `name`, `kind`, `path`. One compact object per line — still one JSON document,
    /// but also friendly to `grep` and `diff`. Ends with a newline; `[]` when empty.
    public static func json(_ entries: [ModuleEntry]) -> String {
        String(decoding: jsonBytes(entries), as: UTF8.self)
    }

    /// ``json(_:)`` as UTF-8 bytes.
    public static func jsonBytes(_ entries: [ModuleEntry]) -> [UInt8] {
        var all: [UInt8] = []
        writeJSON(entries, chunkSize: Int.max) { all.append(contentsOf: $0) }
        return all
    }

    /// Streams ``json(_:)`` as UTF-8 in chunks of about `chunkSize` bytes, reusing one buffer:
    /// `rfs list` writes ten thousand modules without ever holding the whole document (and
    /// without faulting in a megabyte of fresh pages for it).
    ///
    /// This is most of `rfs list --json`'s own work after the walk, so each object is copied into
    /// the buffer with `memcpy`s of the names' UTF-8 storage; only text that needs escaping
    /// (quotes, backslashes, control characters — in practice never) takes a byte-by-byte path.
    public static func writeJSON(
        _ entries: [ModuleEntry], chunkSize: Int = 64 * 1024, to write: (UnsafeBufferPointer<UInt8>) -> Void
    ) {
        withoutActuallyEscaping(write) { write in
            var output = JSONOutput(capacity: min(chunkSize, max(entries.count, 1) * 96) + 1024, write: write)
            defer { output.deallocate() }
            guard !entries.isEmpty else {
                output.append("[]\n")
                output.flush()
                return
            }
            output.append("[\n")
            // Entries are read in place (borrowed), not copied out with a retain per string.
            entries.withUnsafeBufferPointer { buffer in
                let last = buffer.count - 1
                for position in buffer.indices {
                    let entry = buffer.baseAddress! + position
                    output.append(#"{"name":"#)
                    output.appendJSONString(entry.pointee.name)
                    switch entry.pointee.kind {
                    case .module: output.append(#","kind":"module","path":"#)
                    case .package: output.append(#","kind":"package","path":"#)
                    case .namespace: output.append(#","kind":"namespace","path":"#)
                    }
                    output.appendJSONString(entry.pointee.path)
                    output.append(position == last ? "}\n" : "},\n")
                    if output.count >= chunkSize { output.flush() }
                }
            }
            output.append("]\n")
            output.flush()
        }
    }

    /// The human form: an aligned `NAME  KIND  PATH` table (omitted when empty) and a summary line
    /// such as `12 modules (3 packages, 1 namespace, 8 modules) in /abs/root`.
    public static func table(_ entries: [ModuleEntry], root: String) -> String {
        var output = ""
        if !entries.isEmpty {
            let nameWidth = entries.reduce("NAME".count) { max($0, $1.name.count) }
            let kindWidth = "namespace".count
            func row(_ name: String, _ kind: String, _ path: String) {
                output += name
                output += String(repeating: " ", count: nameWidth - name.count + 2)
                output += kind
                output += String(repeating: " ", count: kindWidth - kind.count + 2)
                output += path
                output += "\n"
            }
            row("NAME", "KIND", "PATH")
            for entry in entries { row(entry.name, entry.kind.rawValue, entry.path) }
        }
        output += summary(entries, root: root)
        output += "\n"
        return output
    }

    /// `N modules (P packages, S namespaces, M modules) in ROOT`, with singular nouns for 1.
    public static func summary(_ entries: [ModuleEntry], root: String) -> String {
        var packages = 0
        var namespaces = 0
        var modules = 0
        for entry in entries {
            switch entry.kind {
            case .package: packages += 1
            case .namespace: namespaces += 1
            case .module: modules += 1
            }
        }
        func count(_ value: Int, _ noun: String) -> String { "\(value) \(noun)\(value == 1 ? "" : "s")" }
        return "\(count(entries.count, "module")) (\(count(packages, "package")), "
            + "\(count(namespaces, "namespace")), \(count(modules, "module"))) in \(root)"
    }
}

/// The byte buffer behind ``ModuleListRendering/writeJSON(_:chunkSize:to:)``: grows when one
/// object does not fit, hands its bytes to `write` on ``flush()``.
private struct JSONOutput {
    private var base: UnsafeMutablePointer<UInt8>
    private var capacity: Int
    private(set) var count = 0
    private let write: (UnsafeBufferPointer<UInt8>) -> Void

    init(capacity: Int, write: @escaping (UnsafeBufferPointer<UInt8>) -> Void) {
        self.capacity = max(capacity, 64)
        self.base = .allocate(capacity: self.capacity)
        self.write = write
    }

    func deallocate() { base.deallocate() }

    mutating func flush() {
        write(UnsafeBufferPointer(start: base, count: count))
        count = 0
    }

    private mutating func reserve(_ extra: Int) {
        guard count + extra > capacity else { return }
        let grown = max(capacity * 2, count + extra)
        let new = UnsafeMutablePointer<UInt8>.allocate(capacity: grown)
        new.update(from: base, count: count)
        base.deallocate()
        base = new
        capacity = grown
    }

    mutating func append(_ bytes: UnsafeBufferPointer<UInt8>) {
        reserve(bytes.count)
        if let source = bytes.baseAddress { (base + count).update(from: source, count: bytes.count) }
        count += bytes.count
    }

    mutating func append(_ text: StaticString) {
        append(UnsafeBufferPointer(start: text.utf8Start, count: text.utf8CodeUnitCount))
    }

    private mutating func append(byte: UInt8) {
        reserve(1)
        base[count] = byte
        count += 1
    }

    /// Appends `text` as a JSON string literal: `"`, `\\` and control characters escaped, all
    /// other characters (non-ASCII included) as UTF-8.
    mutating func appendJSONString(_ text: String) {
        append(byte: UInt8(ascii: "\""))
        // Module names and paths almost never need escaping: copy them whole.
        let copied = text.utf8.withContiguousStorageIfAvailable { bytes -> Bool in
            for byte in bytes where byte < 0x20 || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") {
                return false
            }
            append(bytes)
            return true
        }
        if copied != true {
            for byte in text.utf8 { appendEscaped(byte) }
        }
        append(byte: UInt8(ascii: "\""))
    }

    private mutating func appendEscaped(_ byte: UInt8) {
        switch byte {
        case UInt8(ascii: "\""): append(#"\""#)
        case UInt8(ascii: "\\"): append(#"\\"#)
        case UInt8(ascii: "\n"): append(#"\n"#)
        case UInt8(ascii: "\r"): append(#"\r"#)
        case UInt8(ascii: "\t"): append(#"\t"#)
        case 0..<0x20:
            let hex: StaticString = "0123456789abcdef"
            append(#"\u00"#)
            append(byte: hex.utf8Start[Int(byte >> 4)])
            append(byte: hex.utf8Start[Int(byte & 0xF)])
        default: append(byte: byte)
        }
    }
}
