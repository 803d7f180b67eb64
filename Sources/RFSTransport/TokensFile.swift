import Glibc

/// A worker's tokens file (`rfs worker --tokens-file FILE`): one token per line,
///
/// ```
/// # NAME    PERMISSIONS      TOKEN
/// alice     run,serve        3f9c1e0b7a5d4c2e8f6a
/// ci        run,serve,info   9b8a7c6d5e4f3a2b1c0d
/// ops       admin            0a1b2c3d4e5f6a7b8c9d
/// ```
///
/// fields separated by spaces or tabs; PERMISSIONS a comma list of `run`, `serve`, `info`,
/// `admin` (no spaces); lines whose first non-blank character is `#`, and blank lines, are
/// ignored. NAME is 1–64 of `A-Z a-z 0-9 . _ @ -`. Each TOKEN must satisfy ``TokenRules``, and no
/// token or name may appear twice. The file must be a regular file that neither group nor others
/// may read or write (like ssh's private keys), and at most ``maximumSize`` bytes.
///
/// Every refusal names the file and, for content, the line; no message quotes a token.
public enum TokensFile {
    public static let maximumSize = 1 << 20
    public static let maximumNameLength = 64

    /// Reads, checks and parses the file. Synchronous file I/O on the calling thread: call it at
    /// start-up off the event loops and the cooperative pool (the worker command does it on
    /// NIO's thread pool).
    public static func load(path: String) throws(TokensFileError) -> TokenTable {
        let text = try self.read(path: path)
        return try self.parse(text, path: path)
    }

    /// Parses the text of a tokens file read from `path` (named in errors).
    public static func parse(_ text: String, path: String) throws(TokensFileError) -> TokenTable {
        var tokens: [(principal: Principal, token: String)] = []
        var lineOfEntry: [Int] = []
        var lineNumber = 0
        // "\r\n" is one Character in Swift, so it is a separator of its own (CRLF files).
        for line in text.split(omittingEmptySubsequences: false, whereSeparator: { $0 == "\n" || $0 == "\r\n" }) {
            lineNumber += 1
            let fields = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
            guard let first = fields.first, !first.hasPrefix("#") else { continue }
            func fail(_ problem: String) -> TokensFileError {
                .badLine(path: path, line: lineNumber, problem: problem)
            }
            guard fields.count == 3 else {
                throw fail("expected NAME PERMISSIONS TOKEN separated by spaces, found \(fields.count) field\(fields.count == 1 ? "" : "s")")
            }
            let name = String(fields[0])
            if let problem = self.problem(withName: name) {
                throw fail(problem)
            }
            let permissions: Permissions
            switch Permissions.parse(fields[1]) {
            case .success(let parsed):
                permissions = parsed
            case .failure(let failure):
                let expected = Permissions.names.map(\.name).joined(separator: ", ")
                throw fail(
                    failure.item.isEmpty
                        ? "empty item in the permission list '\(fields[1])' (expected a comma list of \(expected))"
                        : "unknown permission '\(failure.item)' for '\(name)' (expected a comma list of \(expected))")
            }
            tokens.append((Principal(name: name, permissions: permissions), String(fields[2])))
            lineOfEntry.append(lineNumber)
        }
        do {
            return try TokenTable(tokens)
        } catch {
            // The table numbers entries from 1; say which lines they are on.
            switch error {
            case .empty:
                throw .noTokens(path: path)
            case .weakToken(let entry, let name, let problem):
                throw .badLine(path: path, line: lineOfEntry[entry - 1], problem: "the token of '\(name)' is refused: \(problem)")
            case .duplicateToken(let entry, let earlier, let name):
                throw .badLine(
                    path: path, line: lineOfEntry[entry - 1],
                    problem: "the token of '\(name)' is the same as the one on line \(lineOfEntry[earlier - 1])")
            case .duplicateName(let entry, let earlier, let name):
                throw .badLine(
                    path: path, line: lineOfEntry[entry - 1],
                    problem: "the name '\(name)' is already used on line \(lineOfEntry[earlier - 1])")
            }
        }
    }

    /// Why `name` cannot name a token; nil when it can.
    static func problem(withName name: String) -> String? {
        guard name.utf8.count <= self.maximumNameLength else {
            return "the name is longer than \(self.maximumNameLength) characters"
        }
        let allowed = name.unicodeScalars.allSatisfy { scalar in
            switch scalar {
            case "a"..."z", "A"..."Z", "0"..."9", ".", "_", "@", "-": true
            default: false
            }
        }
        return allowed ? nil : "the name '\(name)' may only use letters, digits and . _ @ -"
    }

    /// The file's text, after checking it is a regular file of ours alone and not too large.
    private static func read(path: String) throws(TokensFileError) -> String {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else {
            throw .unreadable(path: path, reason: String(cString: strerror(errno)))
        }
        defer { close(descriptor) }
        var status = stat()
        guard fstat(descriptor, &status) == 0 else {
            throw .unreadable(path: path, reason: String(cString: strerror(errno)))
        }
        guard status.st_mode & S_IFMT == S_IFREG else {
            throw .unreadable(path: path, reason: "not a regular file")
        }
        let mode = status.st_mode & 0o777
        guard mode & 0o077 == 0 else {
            throw .tooOpen(path: path, mode: mode)
        }
        guard status.st_size <= self.maximumSize else {
            throw .unreadable(path: path, reason: "larger than \(self.maximumSize) bytes")
        }
        var bytes = [UInt8](repeating: 0, count: Int(status.st_size) + 1)
        var count = 0
        while count < bytes.count {
            let got = bytes.withUnsafeMutableBytes { buffer in
                Glibc.read(descriptor, buffer.baseAddress! + count, buffer.count - count)
            }
            if got < 0 && errno == EINTR { continue }
            guard got >= 0 else { throw .unreadable(path: path, reason: String(cString: strerror(errno))) }
            if got == 0 { break }
            count += got
        }
        // The extra byte catches a file that grew after fstat.
        guard count <= self.maximumSize, count < bytes.count else {
            throw .unreadable(path: path, reason: "larger than \(self.maximumSize) bytes")
        }
        guard let text = String(validating: bytes[..<count], as: UTF8.self) else {
            throw .unreadable(path: path, reason: "not valid UTF-8")
        }
        return text
    }
}

/// Why a tokens file was refused; each case names the file.
public enum TokensFileError: Error, Sendable, Equatable, CustomStringConvertible {
    case unreadable(path: String, reason: String)
    /// Group or others may read or write it (`mode` is the permission bits).
    case tooOpen(path: String, mode: mode_t)
    case badLine(path: String, line: Int, problem: String)
    case noTokens(path: String)

    public var description: String {
        switch self {
        case .unreadable(let path, let reason):
            "cannot read tokens file \(path): \(reason)"
        case .tooOpen(let path, let mode):
            "tokens file \(path) is accessible by other users (mode \(String(mode, radix: 8))); "
                + "it holds secrets: run chmod 600 \(path)"
        case .badLine(let path, let line, let problem):
            "tokens file \(path), line \(line): \(problem)"
        case .noTokens(let path):
            "tokens file \(path) has no tokens (expected lines of NAME PERMISSIONS TOKEN)"
        }
    }
}
