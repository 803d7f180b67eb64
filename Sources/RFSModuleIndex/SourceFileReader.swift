#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Reads a source file's bytes, refusing anything whose opened real path is outside the root,
/// and anything larger than a limit.
///
/// The check runs on the open descriptor, after `open`, so a file or directory swapped for a
/// symlink between the listing and the read cannot leak a byte from outside the root. The size
/// is checked with `fstat` before reading and again while reading (the file may grow), so a
/// read never holds more than `limit + 1` bytes whatever the file's size.
struct SourceFileReader: Sendable {
    let confinement: Confinement

    enum Outcome {
        case contents([UInt8])
        /// The file disappeared (or stopped being a regular file) since it was listed.
        case vanished
    }

    /// Reads the file at `path`; errors name `reportedAs` (the module's origin, the path the user
    /// knows), which differs from `path` only when a directory on the way is a symlink.
    ///
    /// - Throws: `tooLarge` when the file holds more than `limit` bytes (checked before reading a
    ///   byte, and again if it grows while read).
    func read(path: String, reportedAs displayPath: String, limit: Int64) throws(ModuleIndexError) -> Outcome {
        guard let opened = try ConfinedFile.open(path, confinement: confinement, reportedAs: displayPath) else {
            return .vanished
        }
        let descriptor = opened.descriptor
        let info = opened.status
        defer { close(descriptor) }
        let size = Int64(info.st_size)
        guard size <= limit else { throw .tooLarge(path: displayPath, size: size, limit: limit) }

        var bytes = [UInt8](repeating: 0, count: max(Int(size), 0))
        var filled = 0
        while true {
            if filled == bytes.count {
                // The file grew since fstat (or reports size 0): read on in chunks, up to one
                // byte past the limit (which tells a file over it).
                guard Int64(filled) <= limit else { throw .tooLarge(path: displayPath, size: Int64(filled), limit: limit) }
                let room = Int(min(Int64(max(4096, bytes.count / 2)), limit + 1 - Int64(filled)))
                bytes.append(contentsOf: repeatElement(0, count: room))
            }
            let count = bytes.withUnsafeMutableBytes { buffer in
                FileSystem.readBytes(descriptor, buffer.baseAddress! + filled, buffer.count - filled)
            }
            if count < 0 {
                if errno == EINTR { continue }
                throw ModuleIndexError(kind: .unreadable, path: displayPath, detail: systemErrorMessage(errno))
            }
            if count == 0 { break }
            filled += count
        }
        bytes.removeSubrange(filled...)
        return .contents(bytes)
    }
}

/// A file opened for reading whose real path was checked to be inside a source folder.
///
/// The one place that opens a served file: ``SourceFileReader`` (modules) and the manifest's
/// hashing and `tree/read` serving (RFSManifest, RFSClient) use it, so a file swapped for a
/// symlink between the listing and the read cannot leak a byte from outside the folder.
public struct ConfinedFile: ~Copyable {
    /// Open for reading; closed when the value goes away.
    public let descriptor: Int32
    /// `fstat` of the open descriptor.
    public let status: stat

    private init(descriptor: Int32, status: stat) {
        self.descriptor = descriptor
        self.status = status
    }

    deinit {
        close(descriptor)
    }

    /// Opens `path` if its real path is `root` or below it (`root` must be a real path, such as
    /// ``ModuleIndex/rootPath``). nil when the file is gone or no longer a regular file.
    ///
    /// - Throws: ``ModuleIndexError`` naming `reportedAs`: `unreadable` or `outsideRoot`.
    public static func open(_ path: String, root: String, reportedAs displayPath: String) throws(ModuleIndexError) -> ConfinedFile? {
        guard let (descriptor, info) = try open(path, confinement: Confinement(root: root), reportedAs: displayPath) else {
            return nil
        }
        return ConfinedFile(descriptor: descriptor, status: info)
    }

    /// The descriptor (owned by the caller) and its status.
    static func open(_ path: String, confinement: Confinement, reportedAs displayPath: String) throws(ModuleIndexError)
        -> (descriptor: Int32, status: stat)?
    {
        // O_NONBLOCK: opening a FIFO that replaced the file must not hang the serving thread.
        let descriptor = FileSystem.openForReading(path)
        guard descriptor >= 0 else {
            let code = errno
            switch code {
            case ENOENT, ENOTDIR, ELOOP: return nil
            case EACCES, EPERM:
                throw ModuleIndexError(kind: .unreadable, path: displayPath, detail: "permission denied")
            default:
                throw ModuleIndexError(kind: .unreadable, path: displayPath, detail: systemErrorMessage(code))
            }
        }
        var info = stat()
        guard fstat(descriptor, &info) == 0 else {
            let code = errno
            close(descriptor)
            throw ModuleIndexError(kind: .unreadable, path: displayPath, detail: systemErrorMessage(code))
        }
        guard FileSystem.isRegularFile(info) else {
            close(descriptor)
            return nil
        }
        guard let actual = FileSystem.realPath(ofDescriptor: descriptor, openedPath: path) else {
            close(descriptor)
            throw ModuleIndexError(kind: .unreadable, path: displayPath, detail: "cannot resolve its real path")
        }
        guard confinement.contains(actual) else {
            close(descriptor)
            throw ModuleIndexError(
                kind: .outsideRoot, path: displayPath, detail: "resolves to \(actual), outside \(confinement.root)")
        }
        return (descriptor, info)
    }
}
