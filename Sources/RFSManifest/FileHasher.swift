#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import RFSModuleIndex
import Synchronization

/// Reads a source folder's files to hash or serve them: always through ``ConfinedFile`` (the
/// folder's real path must contain what is opened), in fixed-size chunks so a big file never
/// sits in memory whole.
///
/// Synchronous I/O on the calling thread: callers run it off event loops and the cooperative
/// pool. ``filesRead`` (an atomic) counts files opened for reading, so tests can prove that the
/// hash cache spared a read.
public final class FileHasher: Sendable {
    /// Bytes read per `read(2)`.
    public static let chunkSize = 1 << 20

    private let opened = Atomic<Int>(0)

    public init() {}

    /// Files opened for reading so far.
    public var filesRead: Int { opened.load(ordering: .relaxed) }

    /// The failure of one file, naming it as the user knows it (the client path).
    public struct Failure: Error, Sendable, CustomStringConvertible {
        public var path: String
        public var reason: String

        public var description: String { "\(path): \(reason)" }
    }

    /// The SHA-256 of the file at `location` (inside `root`, a real path) and the stamp of what
    /// was read. `displayPath` names it in errors.
    public func hash(location: String, root: String, displayPath: String) throws(Failure) -> (sha256: String, stamp: FileStamp) {
        var hasher = SHA256()
        let stamp = try stream(location: location, root: root, displayPath: displayPath) { chunk, _ in hasher.update(chunk) }
        return (hasher.finalizeHex(), stamp)
    }

    /// Reads the whole file chunk by chunk (`body` gets each chunk and its offset); returns the
    /// stamp of the file opened. Throws when it is gone, unreadable, outside the root, or
    /// changed while read.
    public func stream(
        location: String, root: String, displayPath: String, _ body: (UnsafeRawBufferPointer, Int64) throws(Failure) -> Void
    ) throws(Failure) -> FileStamp {
        let file: ConfinedFile
        do {
            guard let opened = try ConfinedFile.open(location, root: root, reportedAs: displayPath) else {
                throw Failure(path: displayPath, reason: "no longer exists")
            }
            file = opened
        } catch let error as ModuleIndexError {
            throw Failure(path: displayPath, reason: error.detail)
        } catch let error as Failure {
            throw error
        } catch {
            throw Failure(path: displayPath, reason: "\(error)")
        }
        opened.add(1, ordering: .relaxed)
        let stamp = FileStamp(file.status)
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: Self.chunkSize, alignment: 16)
        defer { buffer.deallocate() }
        var offset: Int64 = 0
        while true {
            let count = systemRead(file.descriptor, buffer.baseAddress!, buffer.count)
            if count < 0 {
                if errno == EINTR || errno == EAGAIN { continue }
                throw Failure(path: displayPath, reason: String(cString: strerror(errno)))
            }
            if count == 0 { break }
            try body(UnsafeRawBufferPointer(rebasing: buffer[0..<count]), offset)
            offset += Int64(count)
        }
        var after = stat()
        guard fstat(file.descriptor, &after) == 0, FileStamp(after) == stamp, offset == stamp.size else {
            throw Failure(path: displayPath, reason: "changed while it was read")
        }
        return stamp
    }
}
