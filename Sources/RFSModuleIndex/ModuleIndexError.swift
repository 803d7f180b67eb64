#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A failure of the module index, as a value that names what failed and where.
///
/// The client turns these into JSON-RPC error replies (their message is the script's
/// ImportError) and `rfs list` prints `description` as its single stderr line, so `description`
/// always names the path: `<path>: <reason>`, or `cannot decode <path>: <reason>` for
/// undecodable source.
public struct ModuleIndexError: Error, Sendable, Hashable, CustomStringConvertible {
    public enum Kind: String, Sendable, Hashable {
        /// The root folder does not exist.
        case rootNotFound
        /// The root path exists but is not a directory.
        case notADirectory
        /// A directory or file could not be opened or read (permission denied, I/O error…).
        case unreadable
        /// A source file's bytes cannot be decoded (bad coding cookie, unknown encoding, invalid bytes).
        case undecodableSource
        /// A file resolved to a real path outside the root at read time (e.g. swapped for a symlink).
        case outsideRoot
        /// A source file is larger than the per-file limit (``ModuleIndex/maxFileBytes``); it was
        /// not read.
        case tooLarge
    }

    /// What exactly is wrong with a source file, for callers that report it in their own words
    /// (the client's JSON-RPC error carries these as `data`).
    public enum SourceProblem: Sendable, Hashable {
        /// `encoding` (the cookie's name as written, or `utf-8`) failed on 1-based `line`.
        case undecodable(line: Int, encoding: String)
        /// The file holds `size` bytes (at least; it may have grown while read), over `limit`.
        case tooLarge(size: Int64, limit: Int64)
    }

    public var kind: Kind
    /// The absolute path concerned (the root, a directory or a source file).
    public var path: String
    /// Human-readable reason, lower case, e.g. `no such directory`.
    public var detail: String
    /// Set for `undecodableSource` and `tooLarge`.
    public var problem: SourceProblem?

    public init(kind: Kind, path: String, detail: String, problem: SourceProblem? = nil) {
        self.kind = kind
        self.path = path
        self.detail = detail
        self.problem = problem
    }

    public var description: String {
        kind == .undecodableSource ? "cannot decode \(path): \(detail)" : "\(path): \(detail)"
    }
}

extension ModuleIndexError {
    /// `tooLarge` for the file at `path`: `size` bytes over `limit`.
    static func tooLarge(path: String, size: Int64, limit: Int64) -> ModuleIndexError {
        func text(_ bytes: Int64) -> String { bytes >= 1024 ? "\(bytes) bytes (\(ByteCount.text(bytes)))" : "\(bytes) bytes" }
        return ModuleIndexError(
            kind: .tooLarge, path: path, detail: "\(text(size)) is over the per-file limit of \(text(limit))",
            problem: .tooLarge(size: size, limit: limit))
    }
}

extension ModuleIndexError {
    /// Maps an `errno` from resolving or opening the root folder to the error `init` reports.
    static func forRoot(errno code: Int32, path: String) -> ModuleIndexError {
        switch code {
        case ENOENT: return ModuleIndexError(kind: .rootNotFound, path: path, detail: "no such directory")
        case ENOTDIR: return ModuleIndexError(kind: .notADirectory, path: path, detail: "not a directory")
        case EACCES, EPERM: return ModuleIndexError(kind: .unreadable, path: path, detail: "permission denied")
        default: return ModuleIndexError(kind: .unreadable, path: path, detail: systemErrorMessage(code))
        }
    }
}

/// `strerror` text with a lower-case first letter, to match the rest of our messages.
func systemErrorMessage(_ code: Int32) -> String {
    guard let raw = strerror(code) else { return "error \(code)" }
    let text = String(cString: raw)
    guard let first = text.first else { return "error \(code)" }
    return first.lowercased() + text.dropFirst()
}
