#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Thin POSIX helpers. The index talks to the file system only through these so that every
/// path it opens goes through the same confinement check (``Confinement``).
enum FileSystem {
    /// `realpath(3)`, or `nil` (with `errno` set) when the path cannot be resolved.
    static func realPath(_ path: String) -> String? {
        guard let resolved = realpath(path, nil) else { return nil }
        defer { free(resolved) }
        return String(cString: resolved)
    }

    /// `stat(2)` (follows symlinks), or `nil` with `errno` set.
    static func status(_ path: String) -> stat? {
        var info = stat()
        return stat(path, &info) == 0 ? info : nil
    }

    /// `lstat(2)` (does not follow symlinks), or `nil` with `errno` set.
    static func linkStatus(_ path: String) -> stat? {
        var info = stat()
        return lstat(path, &info) == 0 ? info : nil
    }

    /// The real path of an open descriptor: what the kernel actually opened, not what we asked
    /// for, so a path component swapped for a symlink between resolving and opening is caught.
    /// Falls back to `realpath` of `openedPath` where `/proc` is unavailable.
    static func realPath(ofDescriptor descriptor: Int32, openedPath: String) -> String? {
        #if os(Linux)
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        let length = readlink("/proc/self/fd/\(descriptor)", &buffer, buffer.count - 1)
        if length > 0 {
            return buffer.withUnsafeBufferPointer { chars in
                chars.baseAddress!.withMemoryRebound(to: UInt8.self, capacity: length) { bytes in
                    String(decoding: UnsafeBufferPointer(start: bytes, count: length), as: UTF8.self)
                }
            }
        }
        #endif
        return realPath(openedPath)
    }

    /// `open(2)` read-only, close-on-exec, non-blocking (a FIFO must not hang the caller), under
    /// a name that does not clash with methods called `open`.
    static func openForReading(_ path: String) -> Int32 {
        open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)
    }

    /// `read(2)`, under a name that does not clash with methods called `read`.
    static func readBytes(_ descriptor: Int32, _ buffer: UnsafeMutableRawPointer, _ count: Int) -> Int {
        read(descriptor, buffer, count)
    }

    static func isDirectory(_ info: stat) -> Bool { (info.st_mode & S_IFMT) == S_IFDIR }
    static func isRegularFile(_ info: stat) -> Bool { (info.st_mode & S_IFMT) == S_IFREG }
    static func isSymbolicLink(_ info: stat) -> Bool { (info.st_mode & S_IFMT) == S_IFLNK }

    /// `parent/name` without doubling the separator when `parent` is `/`.
    static func join(_ parent: String, _ name: some StringProtocol) -> String {
        parent.utf8.last == UInt8(ascii: "/") ? parent + name : parent + "/" + name
    }
}

/// Identity of a directory (device + inode): detects symlink cycles and replaced directories.
struct FileIdentity: Hashable, Sendable {
    var device: UInt64
    var inode: UInt64

    init(_ info: stat) {
        device = UInt64(info.st_dev)
        inode = UInt64(info.st_ino)
    }
}

/// What a cached directory listing was read from: if any of it differs on a later `stat`, the
/// directory changed (entries added, removed, renamed) or was replaced, and must be read again.
struct DirectoryStamp: Equatable, Sendable {
    var identity: FileIdentity
    var modifiedSeconds: Int
    var modifiedNanoseconds: Int

    /// How long a directory must stay unmodified before its mtime can vouch for a cached listing
    /// (covers the coarsest common timestamp granularity, FAT's 2 s).
    static let settleIntervalNanoseconds = 2_000_000_000

    /// `true` when this mtime is at least the settle interval before `now` (nanoseconds since
    /// the epoch, from `CLOCK_REALTIME`, the clock file systems stamp with). An mtime in the
    /// future (clock skew) never settles, so such a directory is simply always re-read.
    func isSettled(asOf now: Int) -> Bool {
        let modified = modifiedSeconds &* 1_000_000_000 &+ modifiedNanoseconds
        return now &- modified > Self.settleIntervalNanoseconds
    }

    /// Now, in nanoseconds since the epoch.
    static func now() -> Int {
        var time = timespec()
        clock_gettime(CLOCK_REALTIME, &time)
        return Int(time.tv_sec) &* 1_000_000_000 &+ Int(time.tv_nsec)
    }

    init(_ info: stat) {
        identity = FileIdentity(info)
        #if canImport(Darwin)
        modifiedSeconds = Int(info.st_mtimespec.tv_sec)
        modifiedNanoseconds = Int(info.st_mtimespec.tv_nsec)
        #else
        modifiedSeconds = Int(info.st_mtim.tv_sec)
        modifiedNanoseconds = Int(info.st_mtim.tv_nsec)
        #endif
    }
}

/// The root's real path, and the one question that keeps every byte we serve inside it.
struct Confinement: Sendable {
    let root: String
    private let prefix: String

    init(root: String) {
        self.root = root
        prefix = root.utf8.last == UInt8(ascii: "/") ? root : root + "/"
    }

    /// `true` when `realPath` (already resolved) is the root or below it.
    func contains(_ realPath: String) -> Bool {
        realPath == root || realPath.utf8.starts(with: prefix.utf8)
    }
}
