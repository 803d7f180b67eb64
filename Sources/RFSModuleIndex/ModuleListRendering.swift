/// The two output forms of `rfs list`, kept in the library so they can be tested without
/// spawning the binary.
public enum ModuleListRendering {
    /// The `--json` form (DESIGN.md §4): a JSON array, in the given order, of objects with keys in
    /// the order `name`, `kind`, `path`. One compact object per line — still one JSON document,
    /// but also friendly to `grep` and `diff`. Ends with a newline; `[]` when empty.
    public static func json(_ entries: [ModuleEntry]) -> String {
        guard !entries.isEmpty else { return "[]\n" }
        var output = "[\n"
        output.reserveCapacity(entries.count * 64)
        for (position, entry) in entries.enumerated() {
            output += "{\"name\":"
            appendJSONString(entry.name, to: &output)
            output += ",\"kind\":\""
            output += entry.kind.rawValue
            output += "\",\"path\":"
            appendJSONString(entry.path, to: &output)
            output += position == entries.count - 1 ? "}\n" : "},\n"
        }
        output += "]\n"
        return output
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

    private static func appendJSONString(_ text: String, to output: inout String) {
        output += "\""
        var needsEscaping = false
        for byte in text.utf8 where byte < 0x20 || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") {
            needsEscaping = true
            break
        }
        guard needsEscaping else {
            output += text
            output += "\""
            return
        }
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": output += "\\\""
            case "\\": output += "\\\\"
            case "\n": output += "\\n"
            case "\r": output += "\\r"
            case "\t": output += "\\t"
            case _ where scalar.value < 0x20:
                let hex = String(scalar.value, radix: 16)
                output += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default:
                output.unicodeScalars.append(scalar)
            }
        }
        output += "\""
    }
}
