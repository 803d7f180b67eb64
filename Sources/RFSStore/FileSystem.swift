#if canImport(Glibc)
import Glibc
#endif

/// The few descriptor-relative calls the store is made of. Everything below a directory
/// descriptor is reached with `openat`/`fstatat`/`unlinkat` and `O_NOFOLLOW`/
/// `AT_SYMLINK_NOFOLLOW`, so a symbolic link met on the way is removed or skipped, never
/// followed out of the store or a run's tree.
enum FileSystem {
    /// `lstat` of `name` in the directory `parent`; nil with `errno` set when it fails.
    static func status(at parent: Int32, _ name: String) -> stat? {
        var info = stat()
        guard fstatat(parent, name, &info, AT_SYMLINK_NOFOLLOW) == 0 else { return nil }
        return info
    }

    static func status(_ path: String, followingLinks: Bool = false) -> stat? {
        var info = stat()
        let result = followingLinks ? stat(path, &info) : lstat(path, &info)
        return result == 0 ? info : nil
    }

    /// A directory descriptor for `name` in `parent` (`O_NOFOLLOW`: a link is an error, ELOOP or
    /// ENOTDIR); -1 with `errno` set when it fails.
    static func openDirectory(at parent: Int32, _ name: String) -> Int32 {
        openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
    }

    static func openDirectory(_ path: String) -> Int32 {
        open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
    }
}

extension stat {
    var isDirectory: Bool { st_mode & S_IFMT == S_IFDIR }
    var isRegularFile: Bool { st_mode & S_IFMT == S_IFREG }
    var isSymbolicLink: Bool { st_mode & S_IFMT == S_IFLNK }
    /// ctime in nanoseconds since the epoch: when the entry was last used (linked, `utime`d).
    var changeTime: Int64 { Int64(st_ctim.tv_sec) * 1_000_000_000 + Int64(st_ctim.tv_nsec) }
    var modificationTime: Int64 { Int64(st_mtim.tv_sec) * 1_000_000_000 + Int64(st_mtim.tv_nsec) }
}

/// The names in an open directory, read one at a time (`.` and `..` left out). Owns the
/// descriptor it was opened from and closes it.
final class DirectoryEntries {
    let descriptor: Int32
    private let stream: OpaquePointer

    /// Takes ownership of `descriptor` (closed here even when this fails).
    init?(adopting descriptor: Int32) {
        guard let stream = fdopendir(descriptor) else {
            let saved = errno
            close(descriptor)
            errno = saved
            return nil
        }
        self.descriptor = descriptor
        self.stream = stream
    }

    deinit { closedir(stream) }

    /// The next name, or nil at the end (a read error also ends the listing).
    func next() -> String? {
        while let entry = readdir(stream) {
            let name = withUnsafePointer(to: &entry.pointee.d_name) {
                $0.withMemoryRebound(to: CChar.self, capacity: Int(NAME_MAX) + 1) { String(cString: $0) }
            }
            if name == "." || name == ".." { continue }
            return name
        }
        return nil
    }
}

/// Whether a process with this pid exists (in this pid namespace): `kill(pid, 0)` succeeds or
/// is refused for permission (EPERM: it exists, someone else's).
func processIsAlive(_ pid: Int32) -> Bool {
    guard pid > 0 else { return false }
    if kill(pid, 0) == 0 { return true }
    return errno == EPERM
}
