import Foundation
import Testing

/// Real permission checks when the tests run as root (as CI does).
///
/// Root reads any folder (`CAP_DAC_OVERRIDE`, `CAP_DAC_READ_SEARCH`), so a `chmod 0` folder only
/// denies access to another identity. Two honest ways to get one, both checked to be in effect:
///
/// - In process, ``withFileAccess(_:)`` switches the *calling thread's* filesystem identity to
///   nobody with `setfsuid`/`setfsgid`. On Linux these are per-thread credentials, and while the
///   fsuid is not 0 the kernel drops the file-access capabilities from the thread's effective set,
///   so `open` on a `chmod 0` folder really fails with `EACCES` — for that thread only, so tests
///   running in parallel on other threads are unaffected. The body must be synchronous (it then
///   cannot move to another thread) and must not start threads of its own; `ModuleIndex` walks on
///   the calling thread.
/// - For the `rfs` binary, ``command(_:_:)`` runs it as nobody under `setpriv` (or `runuser`).
///
/// When the tests do not run as root, both run as the current user, whom `chmod 0` already locks out.
public enum Unprivileged {
    /// nobody / nogroup on Debian.
    public static let uid: UInt32 = 65534
    public static let gid: UInt32 = 65534

    public static var isRoot: Bool { geteuid() == 0 }

    private typealias SetFileSystemID = @convention(c) (UInt32) -> Int32

    /// glibc's `setfsuid`/`setfsgid` (not in Swift's Glibc module, so found with `dlsym`).
    private static func function(_ name: String) -> SetFileSystemID? {
        guard let handle = dlopen(nil, RTLD_NOW), let symbol = dlsym(handle, name) else { return nil }
        return unsafeBitCast(symbol, to: SetFileSystemID.self)
    }

    public enum Failure: Error, CustomStringConvertible {
        case unavailable(String)
        case notSwitched(uid: Int32, gid: Int32)

        public var description: String {
            switch self {
            case .unavailable(let name): "\(name) not found"
            case .notSwitched(let uid, let gid): "filesystem identity is \(uid):\(gid), not nobody"
            }
        }
    }

    /// Runs `body` with this thread's file access checked as nobody (when running as root).
    public static func withFileAccess<T>(_ body: () throws -> T) throws -> T {
        guard isRoot else { return try body() }
        guard let setfsuid = function("setfsuid") else { throw Failure.unavailable("setfsuid") }
        guard let setfsgid = function("setfsgid") else { throw Failure.unavailable("setfsgid") }
        _ = setfsgid(gid)
        _ = setfsuid(uid)
        defer {
            // Back to root for this thread (and its capabilities back into the effective set).
            _ = setfsuid(0)
            _ = setfsgid(0)
            precondition(setfsuid(UInt32.max) == 0 && setfsgid(UInt32.max) == 0, "could not restore fsuid 0")
        }
        // An invalid id changes nothing and returns the current one: check the switch happened.
        let currentUID = setfsuid(UInt32.max)
        let currentGID = setfsgid(UInt32.max)
        guard currentUID == Int32(uid), currentGID == Int32(gid) else {
            throw Failure.notSwitched(uid: currentUID, gid: currentGID)
        }
        return try body()
    }

    /// `0` when the current identity can open directory `path`, else the `errno` of `open`.
    /// Tests call it inside ``withFileAccess(_:)`` to show that the lock is real and that the
    /// rest of the tree is reachable, so a pass cannot come from an unrelated denial.
    public static func openDirectoryError(_ path: String) -> Int32 {
        let descriptor = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard descriptor >= 0 else { return errno }
        close(descriptor)
        return 0
    }

    /// The executable and arguments that run `executable arguments` as nobody: `setpriv`
    /// (util-linux) when present, else `runuser`. As a non-root user, the command itself.
    public static func command(_ executable: String, _ arguments: [String]) throws -> (String, [String]) {
        guard isRoot else { return (executable, arguments) }
        let executableFile = { (path: String) in FileManager.default.isExecutableFile(atPath: path) }
        if let setpriv = ["/usr/bin/setpriv", "/bin/setpriv"].first(where: executableFile) {
            return (setpriv, ["--reuid=\(uid)", "--regid=\(gid)", "--clear-groups", "--", executable] + arguments)
        }
        if let runuser = ["/usr/sbin/runuser", "/sbin/runuser", "/usr/bin/runuser"].first(where: executableFile) {
            return (runuser, ["-u", "nobody", "--", executable] + arguments)
        }
        throw Failure.unavailable("setpriv or runuser (util-linux), needed to test permissions as root")
    }

    /// `true` when nobody can reach and run `path`: every ancestor directory is world-searchable
    /// and the file is world-readable and -executable (mode bits; root owns the build tree).
    public static func isRunnableByOthers(_ path: String) -> Bool {
        var info = stat()
        guard stat(path, &info) == 0, info.st_mode & (S_IROTH | S_IXOTH) == (S_IROTH | S_IXOTH) else {
            return false
        }
        var directory = URL(fileURLWithPath: path).deletingLastPathComponent()
        while true {
            guard stat(directory.path, &info) == 0, info.st_mode & S_IXOTH != 0 else { return false }
            if directory.path == "/" { return true }
            directory.deleteLastPathComponent()
        }
    }
}
