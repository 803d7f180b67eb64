#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Reads a source file's bytes, refusing anything whose opened real path is outside the root.
///
/// The check runs on the open descriptor, after `open`, so a file or directory swapped for a
/// symlink between the listing and the read cannot leak a byte from outside the root.
struct SourceFileReader: Sendable {
    let confinement: Confinement

    enum Outcome {
        case contents([UInt8])
        /// The file disappeared (or stopped being a regular file) since it was listed.
        case vanished
    }

    /// Reads the file at `path`; errors name `reportedAs` (the module's origin, the path the user
    /// knows), which differs from `path` only when a directory on the way is a symlink.
    func read(path: String, reportedAs displayPath: String) throws(ModuleIndexError) -> Outcome {
        // O_NONBLOCK: opening a FIFO that replaced the file must not hang the serving thread.
        let descriptor = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)
        guard descriptor >= 0 else {
            let code = errno
            switch code {
            case ENOENT, ENOTDIR, ELOOP: return .vanished
            case EACCES, EPERM:
                throw ModuleIndexError(kind: .unreadable, path: displayPath, detail: "permission denied")
            default:
                throw ModuleIndexError(kind: .unreadable, path: displayPath, detail: systemErrorMessage(code))
            }
        }
        defer { close(descriptor) }

        var info = stat()
        guard fstat(descriptor, &info) == 0 else {
            throw ModuleIndexError(kind: .unreadable, path: displayPath, detail: systemErrorMessage(errno))
        }
        guard FileSystem.isRegularFile(info) else { return .vanished }
        guard let actual = FileSystem.realPath(ofDescriptor: descriptor, openedPath: path) else {
            throw ModuleIndexError(kind: .unreadable, path: displayPath, detail: "cannot resolve its real path")
        }
        guard confinement.contains(actual) else {
            throw ModuleIndexError(
                kind: .outsideRoot, path: displayPath, detail: "resolves to \(actual), outside \(confinement.root)")
        }

        var bytes = [UInt8](repeating: 0, count: max(Int(info.st_size), 0))
        var filled = 0
        while true {
            if filled == bytes.count {
                // The file grew since fstat (or reports size 0): read on in chunks.
                bytes.append(contentsOf: repeatElement(0, count: max(4096, bytes.count / 2)))
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
