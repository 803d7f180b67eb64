#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A failure of the module index, as a value that names what failed and where.
///
/// The client turns these into JSON-RPC error replies and `rfs list` prints `description` as its
/// single stderr line, so `description` always reads `<path>: <reason>`.
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
    }

    public var kind: Kind
    /// The absolute path concerned (the root, a directory or a source file).
    public var path: String
    /// Human-readable reason, lower case, e.g. `no such directory`.
    public var detail: String

    public init(kind: Kind, path: String, detail: String) {
        self.kind = kind
        self.path = path
        self.detail = detail
    }

    public var description: String { "\(path): \(detail)" }
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
