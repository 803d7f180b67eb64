/// Finds the imports a Python module executes when it is imported, without running Python: a
/// small tokenizer (strings of every form, comments, continuation lines, brackets) and a block
/// tracker over indentation.
///
/// Counted: module level, class bodies, `if`/`elif`/`else`, `try`/`except`/`finally`, `with`,
/// `for`, `while`, `match` blocks. Not counted: anything inside `def` / `async def` bodies, and
/// the body of `if TYPE_CHECKING:` / `if typing.TYPE_CHECKING:` (its `else:` is counted).
/// A best effort for prefetching: a miss costs one round trip later, never correctness.
///
/// Work is linear in the input, and bounded: at most ``maxSourceBytes`` are scanned and
/// ``maxStatements`` imports kept.
public enum ImportScanner {
    public static let maxSourceBytes = 4 << 20
    public static let maxStatements = 4096

    /// One import statement, as written.
    public struct Statement: Sendable, Equatable {
        /// Leading dots of `from ..x import y` (0 for absolute imports and `import a.b`).
        public var level: Int
        /// `a.b` of `import a.b` / `from a.b import c`; empty for `from . import y`.
        public var module: String
        /// Names after `from … import` (not `*`); empty for `import a.b`.
        public var names: [String]

        public init(level: Int = 0, module: String, names: [String] = []) {
            self.level = level
            self.module = module
            self.names = names
        }
    }

    /// The statements of `source` (UTF-8 bytes), in order.
    public static func scan(_ source: [UInt8]) -> [Statement] {
        var tokenizer = Tokenizer(source.count > maxSourceBytes ? Array(source[0..<maxSourceBytes]) : source)
        var blocks: [(indent: Int, suppressed: Bool)] = []
        var statements: [Statement] = []
        while let line = tokenizer.nextLogicalLine() {
            while let top = blocks.last, line.indent <= top.indent { blocks.removeLast() }
            let suppressed = blocks.last?.suppressed ?? false
            handle(line.tokens[...], indent: line.indent, suppressed: suppressed, blocks: &blocks, into: &statements)
            if statements.count >= maxStatements { break }
        }
        return Array(statements.prefix(maxStatements))
    }

    /// Absolute candidate module names of `statements` found in module `module` (a package when
    /// `isPackage`), in order: `import a.b` → `a.b`; `from x import y` → `x` then `x.y` (the
    /// caller keeps `x.y` only when it names a module); relative imports resolved.
    public static func candidates(of statements: [Statement], module: String, isPackage: Bool) -> [String] {
        let package = isPackage ? module : String(module[..<(module.lastIndex(of: ".") ?? module.startIndex)])
        var names: [String] = []
        for statement in statements {
            var base = statement.module
            if statement.level > 0 {
                var anchor = Substring(package)
                var ok = true
                for _ in 1..<statement.level {
                    guard let dot = anchor.lastIndex(of: ".") else {
                        ok = false
                        break
                    }
                    anchor = anchor[..<dot]
                }
                guard ok, !anchor.isEmpty else { continue }
                base = statement.module.isEmpty ? String(anchor) : anchor + "." + statement.module
            }
            guard !base.isEmpty else { continue }
            names.append(base)
            for name in statement.names { names.append(base + "." + name) }
        }
        return names
    }

    private static let compoundKeywords: Set<String> = [
        "if", "elif", "else", "try", "except", "finally", "with", "for", "while", "def", "class", "async", "match", "case",
    ]

    /// One logical line's statements; a block header ending in `:` opens a block (pushed on
    /// `blocks`), or carries its body on the same line.
    private static func handle(
        _ tokens: ArraySlice<Token>, indent: Int, suppressed: Bool, blocks: inout [(indent: Int, suppressed: Bool)],
        into statements: inout [Statement]
    ) {
        var rest = tokens
        while !rest.isEmpty {
            // Split off one statement at a top-level ';'.
            let end = rest.firstIndex(where: { $0 == .op(UInt8(ascii: ";")) }) ?? rest.endIndex
            let statement = rest[rest.startIndex..<end]
            rest = end < rest.endIndex ? rest[(end + 1)...] : rest[rest.endIndex...]
            guard case .name(let first)? = statement.first else { continue }
            if compoundKeywords.contains(first), let colon = statement.firstIndex(where: { $0 == .colon }) {
                let header = statement[statement.startIndex..<colon]
                let opensSuppressed = suppressed || isFunctionHeader(header) || isTypeCheckingHeader(header)
                let body = statement[(colon + 1)...]
                if body.isEmpty && rest.isEmpty {
                    if blocks.count < 512 { blocks.append((indent, opensSuppressed)) }
                } else {
                    // `if x: import y; import z`: the rest of the line is the body.
                    handle(Array(body) + [.op(UInt8(ascii: ";"))] + Array(rest), indent: indent, suppressed: opensSuppressed, blocks: &blocks, into: &statements)
                }
                return
            }
            guard !suppressed else { continue }
            if first == "import" {
                parseImport(statement.dropFirst(), into: &statements)
            } else if first == "from" {
                parseFrom(statement.dropFirst(), into: &statements)
            }
        }
    }

    private static func isFunctionHeader(_ header: ArraySlice<Token>) -> Bool {
        guard case .name(let first)? = header.first else { return false }
        if first == "def" { return true }
        if first == "async", header.count > 1, header[header.startIndex + 1] == .name("def") { return true }
        return false
    }

    private static func isTypeCheckingHeader(_ header: ArraySlice<Token>) -> Bool {
        let tokens = Array(header)
        return tokens == [.name("if"), .name("TYPE_CHECKING")]
            || tokens == [.name("if"), .name("typing"), .op(UInt8(ascii: ".")), .name("TYPE_CHECKING")]
    }

    /// `import a.b as c, d`.
    private static func parseImport(_ tokens: ArraySlice<Token>, into statements: inout [Statement]) {
        var rest = tokens
        while let module = dottedName(&rest) {
            statements.append(Statement(module: module))
            if rest.first == .name("as") {
                rest = rest.dropFirst(2)
            }
            guard rest.first == .op(UInt8(ascii: ",")) else { return }
            rest = rest.dropFirst()
        }
    }

    /// `from ..a.b import (c as d, e)`.
    private static func parseFrom(_ tokens: ArraySlice<Token>, into statements: inout [Statement]) {
        var rest = tokens
        var level = 0
        while let token = rest.first, token == .op(UInt8(ascii: ".")) {
            level += 1
            rest = rest.dropFirst()
        }
        var module = ""
        if rest.first != .name("import") {
            guard let name = dottedName(&rest) else { return }
            module = name
        }
        guard rest.first == .name("import") else { return }
        rest = rest.dropFirst()
        if rest.first == .op(UInt8(ascii: "(")) { rest = rest.dropFirst() }
        var names: [String] = []
        while case .name(let name)? = rest.first {
            names.append(name)
            rest = rest.dropFirst()
            if rest.first == .name("as") { rest = rest.dropFirst(2) }
            guard rest.first == .op(UInt8(ascii: ",")) else { break }
            rest = rest.dropFirst()
        }
        if level == 0 && module.isEmpty { return }
        statements.append(Statement(level: level, module: module, names: names))
    }

    private static func dottedName(_ tokens: inout ArraySlice<Token>) -> String? {
        guard case .name(let first)? = tokens.first else { return nil }
        var name = first
        tokens = tokens.dropFirst()
        while tokens.first == .op(UInt8(ascii: ".")), tokens.count > 1, case .name(let part) = tokens[tokens.startIndex + 1] {
            name += "." + part
            tokens = tokens.dropFirst(2)
        }
        return name
    }
}

/// What the scanner needs of Python's tokens.
enum Token: Equatable {
    /// An identifier or keyword (bytes ≥ 0x80 count as identifier characters).
    case name(String)
    /// A block header's `:` at bracket depth 0 (`:=` is not one).
    case colon
    /// A punctuation byte at bracket depth 0, or `(` `)` `,` `.` inside brackets.
    case op(UInt8)
    /// A string, number or anything else.
    case other
}

/// Splits source into logical lines of ``Token``s with their indentation.
struct Tokenizer {
    let bytes: [UInt8]
    var position = 0

    init(_ bytes: [UInt8]) {
        self.bytes = bytes
    }

    struct Line {
        var indent: Int
        var tokens: [Token]
    }

    /// The next logical line that holds a token; nil at the end.
    mutating func nextLogicalLine() -> Line? {
        while position < bytes.count {
            // Indentation of the physical line that starts this logical line.
            var indent = 0
            while position < bytes.count {
                let byte = bytes[position]
                if byte == UInt8(ascii: " ") {
                    indent += 1
                } else if byte == UInt8(ascii: "\t") {
                    indent = (indent / 8 + 1) * 8
                } else if byte == 0x0C {
                    indent = 0
                } else {
                    break
                }
                position += 1
            }
            var tokens: [Token] = []
            var depth = 0
            lineLoop: while position < bytes.count {
                let byte = bytes[position]
                switch byte {
                case UInt8(ascii: "\n"):
                    position += 1
                    if depth == 0 { break lineLoop }
                case UInt8(ascii: "\r"), UInt8(ascii: " "), UInt8(ascii: "\t"), 0x0C:
                    position += 1
                case UInt8(ascii: "#"):
                    while position < bytes.count, bytes[position] != UInt8(ascii: "\n") { position += 1 }
                case UInt8(ascii: "\\"):
                    // Line continuation: skip the backslash and its newline.
                    position += 1
                    if position < bytes.count, bytes[position] == UInt8(ascii: "\r") { position += 1 }
                    if position < bytes.count, bytes[position] == UInt8(ascii: "\n") { position += 1 }
                case UInt8(ascii: "'"), UInt8(ascii: "\""):
                    skipString(raw: false)
                    tokens.append(.other)
                case UInt8(ascii: "("), UInt8(ascii: "["), UInt8(ascii: "{"):
                    depth += 1
                    tokens.append(.op(byte))
                    position += 1
                case UInt8(ascii: ")"), UInt8(ascii: "]"), UInt8(ascii: "}"):
                    depth = max(0, depth - 1)
                    tokens.append(.op(byte))
                    position += 1
                case UInt8(ascii: ":"):
                    position += 1
                    if position < bytes.count, bytes[position] == UInt8(ascii: "=") {
                        position += 1
                        tokens.append(.other)
                    } else {
                        tokens.append(depth == 0 ? .colon : .other)
                    }
                case UInt8(ascii: "0")...UInt8(ascii: "9"):
                    while position < bytes.count, Self.isNameByte(bytes[position]) || bytes[position] == UInt8(ascii: ".") {
                        position += 1
                    }
                    tokens.append(.other)
                default:
                    if Self.isNameByte(byte) {
                        let start = position
                        while position < bytes.count, Self.isNameByte(bytes[position]) { position += 1 }
                        let word = bytes[start..<position]
                        if position < bytes.count, bytes[position] == UInt8(ascii: "'") || bytes[position] == UInt8(ascii: "\""),
                            Self.isStringPrefix(word)
                        {
                            skipString(raw: word.contains { $0 | 0x20 == UInt8(ascii: "r") })
                            tokens.append(.other)
                        } else {
                            tokens.append(.name(String(decoding: word, as: UTF8.self)))
                        }
                    } else {
                        tokens.append(.op(byte))
                        position += 1
                    }
                }
            }
            if !tokens.isEmpty { return Line(indent: indent, tokens: tokens) }
        }
        return nil
    }

    /// Skips a string literal starting at `position` (its opening quote), triple-quoted or not.
    /// A backslash always keeps the next byte inside the string (also in raw strings, where
    /// `r"\""` is one string). An unterminated single-quoted string ends at the line's end.
    private mutating func skipString(raw: Bool) {
        let quote = bytes[position]
        let isTriple = position + 2 < bytes.count && bytes[position + 1] == quote && bytes[position + 2] == quote
        position += isTriple ? 3 : 1
        while position < bytes.count {
            let byte = bytes[position]
            if byte == UInt8(ascii: "\\") {
                position += 2
                continue
            }
            if byte == quote {
                if !isTriple {
                    position += 1
                    return
                }
                if position + 2 < bytes.count, bytes[position + 1] == quote, bytes[position + 2] == quote {
                    position += 3
                    return
                }
            }
            if byte == UInt8(ascii: "\n"), !isTriple { return }
            position += 1
        }
        position = min(position, bytes.count)
    }

    static func isNameByte(_ byte: UInt8) -> Bool {
        (byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "z")) || (byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z"))
            || (byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9")) || byte == UInt8(ascii: "_") || byte >= 0x80
    }

    /// `r`, `u`, `b`, `f` and the two-letter `rb`/`br`/`fr`/`rf`, any case.
    static func isStringPrefix(_ word: ArraySlice<UInt8>) -> Bool {
        let lower = word.map { $0 | 0x20 }
        switch lower.count {
        case 1: return [UInt8(ascii: "r"), UInt8(ascii: "u"), UInt8(ascii: "b"), UInt8(ascii: "f")].contains(lower[0])
        case 2:
            let pair = String(decoding: lower, as: UTF8.self)
            return ["rb", "br", "fr", "rf"].contains(pair)
        default: return false
        }
    }
}
