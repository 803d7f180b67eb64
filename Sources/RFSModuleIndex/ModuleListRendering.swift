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
    public static func writeJSON(
        _ entries: [ModuleEntry], chunkSize: Int = 64 * 1024, to write: (UnsafeBufferPointer<UInt8>) -> Void
    ) {
        var output: [UInt8] = []
        output.reserveCapacity(min(chunkSize, max(entries.count, 1) * 96) + 1024)
        func flush() {
            output.withUnsafeBufferPointer { write($0) }
            output.removeAll(keepingCapacity: true)
        }
        guard !entries.isEmpty else {
            output.append(contentsOf: "[]\n".utf8)
            flush()
            return
        }
        output.append(contentsOf: "[\n".utf8)
        for (position, entry) in entries.enumerated() {
            output.append(contentsOf: #"{"name":"#.utf8)
            appendJSONString(entry.name, to: &output)
            output.append(contentsOf: #","kind":""#.utf8)
            output.append(contentsOf: entry.kind.rawValue.utf8)
            output.append(contentsOf: #"","path":"#.utf8)
            appendJSONString(entry.path, to: &output)
            output.append(contentsOf: position == entries.count - 1 ? "}\n".utf8 : "},\n".utf8)
            if output.count >= chunkSize { flush() }
        }
        output.append(contentsOf: "]\n".utf8)
        flush()
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

    /// Appends `text` as a JSON string literal: `"`, `\\` and control characters escaped, all
    /// other characters (non-ASCII included) as UTF-8.
    private static func appendJSONString(_ text: String, to output: inout [UInt8]) {
        output.append(UInt8(ascii: "\""))
        // Module names and paths almost never need escaping: copy them whole.
        let copied = text.utf8.withContiguousStorageIfAvailable { bytes -> Bool in
            for byte in bytes where byte < 0x20 || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") {
                return false
            }
            output.append(contentsOf: bytes)
            return true
        }
        if copied == true {
            output.append(UInt8(ascii: "\""))
            return
        }
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "\""): output.append(contentsOf: #"\""#.utf8)
            case UInt8(ascii: "\\"): output.append(contentsOf: #"\\"#.utf8)
            case UInt8(ascii: "\n"): output.append(contentsOf: #"\n"#.utf8)
            case UInt8(ascii: "\r"): output.append(contentsOf: #"\r"#.utf8)
            case UInt8(ascii: "\t"): output.append(contentsOf: #"\t"#.utf8)
            case 0..<0x20:
                let hex = Array("0123456789abcdef".utf8)
                output.append(contentsOf: #"\u00"#.utf8)
                output.append(hex[Int(byte >> 4)])
                output.append(hex[Int(byte & 0xF)])
            default: output.append(byte)
            }
        }
        output.append(UInt8(ascii: "\""))
    }
}
