#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The fixed skip rules of DESIGN.md §4, applied to every directory entry before anything else.
///
/// Skipped entries are invisible: they are never served, never listed, and do not make their parent
/// a namespace package. (Directories holding `pyvenv.cfg` are skipped too, but that needs the
/// directory's own listing; see ``DirectoryListing/isVirtualEnvironment``.)
enum SkipRules {
    /// `true` for `.hidden`, `__pycache__`, `node_modules`, `*.egg-info`, `*.dist-info`.
    static func isSkipped(name: String) -> Bool {
        let bytes = name.utf8
        if bytes.first == UInt8(ascii: ".") { return true }
        if name == "__pycache__" || name == "node_modules" { return true }
        return hasSuffix(bytes, ".egg-info") || hasSuffix(bytes, ".dist-info")
    }

    /// `*.dist-info` / `*.egg-info`: distribution metadata. Skipped for imports; the manifest
    /// lists the top-level ones of a source folder (`importlib.metadata` reads them).
    static func isMetadataDirectoryName(_ name: String) -> Bool {
        let bytes = name.utf8
        guard bytes.first != UInt8(ascii: ".") else { return false }
        return hasSuffix(bytes, ".egg-info") || hasSuffix(bytes, ".dist-info")
    }

    /// Byte-wise suffix test: `String.hasSuffix` compares by canonical equivalence, which is slower
    /// and not what a file system does.
    static func hasSuffix(_ bytes: String.UTF8View, _ suffix: StaticString) -> Bool {
        let count = suffix.utf8CodeUnitCount
        guard bytes.count >= count else { return false }
        let suffixBytes = UnsafeBufferPointer(start: suffix.utf8Start, count: count)
        return bytes.suffix(count).elementsEqual(suffixBytes)
    }
}

/// `--exclude GLOB` patterns.
///
/// Each pattern is matched with `fnmatch(3)` (flags `FNM_NOESCAPE` only, so `*` also matches `/`,
/// a leading `.` is not special and `\` is literal — the same as Python's `fnmatch.fnmatchcase`)
/// against two strings: the entry's path relative to the root with `/` separators
/// (`pkg/tests/test_x.py`) and the entry's base name (`test_x.py`). So `tests` drops every entry
/// named `tests` at any depth, `pkg/tests` only that one, and `*_test.py` every such file. A
/// trailing `/` on a pattern is ignored (`build/` means `build`). An excluded directory hides its
/// whole subtree; an excluded `__init__.py` makes its directory no longer a regular package.
struct ExcludePatterns: Sendable {
    let patterns: [String]

    init(_ patterns: [String]) {
        self.patterns = patterns.compactMap { raw in
            var pattern = Substring(raw)
            while pattern.count > 1, pattern.last == "/" { pattern = pattern.dropLast() }
            return pattern.isEmpty ? nil : String(pattern)
        }
    }

    var isEmpty: Bool { patterns.isEmpty }

    func matches(relativePath: String, name: String) -> Bool {
        for pattern in patterns {
            if fnmatch(pattern, relativePath, FNM_NOESCAPE) == 0 { return true }
            if fnmatch(pattern, name, FNM_NOESCAPE) == 0 { return true }
        }
        return false
    }
}
