#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Whole-file reads and atomic rewrites for the client's small state files (the hash cache).
/// Synchronous POSIX I/O: callers run it off event loops and the cooperative pool.
enum AtomicFile {
    enum ReadOutcome {
        case contents([UInt8])
        case missing
        case failed(String)
    }

    /// Reads `path` whole, refusing a file bigger than `limit` bytes (memory stays bounded).
    static func read(_ path: String, limit: Int) -> ReadOutcome {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else {
            return errno == ENOENT ? .missing : .failed(String(cString: strerror(errno)))
        }
        defer { close(descriptor) }
        var info = stat()
        guard fstat(descriptor, &info) == 0 else { return .failed(String(cString: strerror(errno))) }
        guard Int(info.st_size) <= limit else { return .failed("\(info.st_size) bytes, more than the \(limit) a full cache takes") }
        var bytes = [UInt8](repeating: 0, count: Int(info.st_size))
        var filled = 0
        while filled < bytes.count {
            let count = bytes.withUnsafeMutableBytes { systemRead(descriptor, $0.baseAddress! + filled, $0.count - filled) }
            if count < 0, errno == EINTR { continue }
            if count < 0 { return .failed(String(cString: strerror(errno))) }
            if count == 0 { break }
            filled += count
        }
        bytes.removeSubrange(filled...)
        return .contents(bytes)
    }

    /// Writes `bytes` to a temporary file beside `path` and renames it into place, creating the
    /// folder (mode 0700) when missing, so a reader never sees a partial file.
    static func write(_ bytes: [UInt8], to path: String) throws(HashCacheError) {
        let folder = String(path[..<(path.lastIndex(of: "/") ?? path.startIndex)])
        if !folder.isEmpty { makeDirectories(folder) }
        let temporary = "\(path).\(getpid()).\(UInt32.random(in: 0...UInt32.max)).tmp"
        let descriptor = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else { throw HashCacheError(path: path, reason: String(cString: strerror(errno))) }
        var written = 0
        while written < bytes.count {
            let count = bytes.withUnsafeBytes { systemWrite(descriptor, $0.baseAddress! + written, $0.count - written) }
            if count < 0, errno == EINTR { continue }
            if count <= 0 {
                let reason = String(cString: strerror(errno))
                close(descriptor)
                unlink(temporary)
                throw HashCacheError(path: path, reason: reason)
            }
            written += count
        }
        close(descriptor)
        guard rename(temporary, path) == 0 else {
            let reason = String(cString: strerror(errno))
            unlink(temporary)
            throw HashCacheError(path: path, reason: reason)
        }
    }

    /// `mkdir -p` with mode 0700; failures surface when the file is created.
    private static func makeDirectories(_ folder: String) {
        var current = ""
        for component in folder.split(separator: "/") {
            current += "/" + component
            _ = mkdir(current, 0o700)
        }
    }
}

/// `read(2)` / `write(2)` under names that do not clash with ``AtomicFile``'s own.
func systemRead(_ descriptor: Int32, _ buffer: UnsafeMutableRawPointer, _ count: Int) -> Int { read(descriptor, buffer, count) }
func systemWrite(_ descriptor: Int32, _ buffer: UnsafeRawPointer, _ count: Int) -> Int { write(descriptor, buffer, count) }
