/// Turns a source file's bytes into text the way Python's `import` does: a UTF-8 BOM, else a
/// PEP 263 coding cookie on line 1 or 2 (line 2 only when line 1 is blank or a comment), else
/// UTF-8. The rules are `tokenize.detect_encoding`'s, except where the C tokenizer that compiles
/// imported files is more lenient (see ``cookie(in:lineNumber:hasBOM:failure:)``).
///
/// The text is returned as it is in the file (coding cookie and line endings included) except
/// for a leading BOM, which Python's `utf-8-sig` decoding drops too: the worker compiles this
/// text, and `compile()` of a `str` ignores the cookie.
public enum SourceDecoder {
    /// Decodes `bytes`, read from `path` (used only in error messages).
    public static func decode(_ bytes: [UInt8], path: String) throws(ModuleIndexError) -> String {
        func failure(_ detail: String, line: Int, encoding: String) -> ModuleIndexError {
            ModuleIndexError(
                kind: .undecodableSource, path: path, detail: detail, problem: .undecodable(line: line, encoding: encoding))
        }

        let hasBOM = bytes.starts(with: [0xEF, 0xBB, 0xBF])
        let body = hasBOM ? bytes[3...] : bytes[...]
        var codec = TextCodec.utf8

        let firstLine = line(in: body, from: body.startIndex)
        if let cookie = try cookie(in: firstLine, lineNumber: 1, hasBOM: hasBOM, failure: failure) {
            codec = cookie
        } else if isBlankOrComment(firstLine), firstLine.endIndex < body.endIndex {
            let secondLine = line(in: body, from: firstLine.endIndex)
            if let cookie = try cookie(in: secondLine, lineNumber: 2, hasBOM: hasBOM, failure: failure) {
                codec = cookie
            }
        }

        do {
            return try codec.decode(body)
        } catch {
            let position = lineAndColumn(of: error.offset, in: body)
            let hex = "0x" + (error.byte < 0x10 ? "0" : "") + String(error.byte, radix: 16)
            throw failure(
                "line \(position.line) is not valid \(codec.rawValue) (byte \(hex) at column \(position.column): \(error.reason))",
                line: position.line, encoding: codec.rawValue)
        }
    }

    /// The line starting at `start`, including its `\n` (Python's binary `readline`).
    private static func line(in bytes: ArraySlice<UInt8>, from start: Int) -> ArraySlice<UInt8> {
        guard let newline = bytes[start...].firstIndex(of: UInt8(ascii: "\n")) else { return bytes[start...] }
        return bytes[start...newline]
    }

    /// tokenize's `blank_re`: `^[ \t\f]*(?:[#\r\n]|$)` — only then may line 2 hold the cookie.
    private static func isBlankOrComment(_ line: ArraySlice<UInt8>) -> Bool {
        for byte in line {
            switch byte {
            case 0x20, 0x09, 0x0C: continue
            case UInt8(ascii: "#"), UInt8(ascii: "\r"), UInt8(ascii: "\n"): return true
            default: return false
            }
        }
        return true
    }

    /// tokenize's `find_cookie`: the cookie must match `^[ \t\f]*#.*?coding[:=][ \t]*([-\w.]+)`
    /// and name a known codec; with a BOM, only UTF-8. Unlike `tokenize` (but like the C tokenizer
    /// that `import` uses), the line itself need not be valid UTF-8: `# coding: latin-1` followed
    /// by Latin-1 bytes on the same line imports fine in CPython, so it must be served.
    private static func cookie(
        in line: ArraySlice<UInt8>, lineNumber: Int, hasBOM: Bool,
        failure: (String, Int, String) -> ModuleIndexError
    ) throws(ModuleIndexError) -> TextCodec? {
        guard let name = cookieName(in: line) else { return nil }
        let normal = normalName(name)
        guard let codec = TextCodec(pythonName: normal) else {
            throw failure("line \(lineNumber) names unknown encoding '\(name)' in its coding cookie", lineNumber, name)
        }
        if hasBOM && normal != "utf-8" {
            throw failure(
                "line \(lineNumber) has coding cookie '\(name)' but the file starts with a UTF-8 BOM (encoding problem)",
                lineNumber, name)
        }
        return codec
    }

    /// The regex above, by hand: the name after the first `coding:`/`coding=` (following a `#`)
    /// that is followed by at least one `[-A-Za-z0-9_.]` character.
    static func cookieName(in line: ArraySlice<UInt8>) -> String? {
        var index = line.startIndex
        while index < line.endIndex, line[index] == 0x20 || line[index] == 0x09 || line[index] == 0x0C {
            index += 1
        }
        guard index < line.endIndex, line[index] == UInt8(ascii: "#") else { return nil }
        let keyword = Array("coding".utf8)
        // `.` does not match `\n`, so the search stops at the line's end.
        var end = line.endIndex
        if let newline = line[index...].firstIndex(of: UInt8(ascii: "\n")) { end = newline }
        var search = index + 1
        while search + keyword.count < end {
            if line[search..<(search + keyword.count)].elementsEqual(keyword) {
                let separator = line[search + keyword.count]
                if separator == UInt8(ascii: ":") || separator == UInt8(ascii: "=") {
                    var start = search + keyword.count + 1
                    while start < end, line[start] == 0x20 || line[start] == 0x09 { start += 1 }
                    var stop = start
                    while stop < end, isCookieNameByte(line[stop]) { stop += 1 }
                    if stop > start { return String(decoding: line[start..<stop], as: UTF8.self) }
                }
            }
            search += 1
        }
        return nil
    }

    private static func isCookieNameByte(_ byte: UInt8) -> Bool {
        (byte >= 0x61 && byte <= 0x7A) || (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x30 && byte <= 0x39)
            || byte == UInt8(ascii: "_") || byte == UInt8(ascii: "-") || byte == UInt8(ascii: ".")
    }

    /// tokenize's `_get_normal_name`: folds the UTF-8 and Latin-1 spellings tokenize special-cases.
    static func normalName(_ name: String) -> String {
        let folded = String(name.prefix(12)).lowercased().replacingUnderscores()
        if folded == "utf-8" || folded.hasPrefix("utf-8-") { return "utf-8" }
        for latin in ["latin-1", "iso-8859-1", "iso-latin-1"] where folded == latin || folded.hasPrefix(latin + "-") {
            return "iso-8859-1"
        }
        return name
    }

    private static func lineAndColumn(of offset: Int, in bytes: ArraySlice<UInt8>) -> (line: Int, column: Int) {
        var line = 1
        var lineStart = bytes.startIndex
        let target = bytes.startIndex + offset
        for index in bytes.startIndex..<target where bytes[index] == UInt8(ascii: "\n") {
            line += 1
            lineStart = index + 1
        }
        return (line, target - lineStart + 1)
    }
}

extension String {
    fileprivate func replacingUnderscores() -> String {
        String(decoding: utf8.map { $0 == UInt8(ascii: "_") ? UInt8(ascii: "-") : $0 }, as: UTF8.self)
    }
}
