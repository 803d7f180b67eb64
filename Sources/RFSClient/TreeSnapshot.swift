import RFSManifest
import RFSModuleIndex
import RFSWire
import Synchronization

/// One manifest a run was given, kept by the session to answer `tree/read` for it: the
/// manifest, where each entry lives on the client, and its import closure (with the scans
/// cached). Immutable but for the closure's own lock-guarded scan cache.
public final class TreeSnapshot: Sendable {
    public let built: BuiltManifest
    public let closure: ImportClosure
    /// Reads served files (and counts them).
    let hasher: FileHasher

    /// What the run's script imports at module level (absolute names, as ``ImportScanner`` reads
    /// them): the first `tree/read` also carries their closure, so a cold run's imports need
    /// about one round trip rather than one per import statement of the script.
    public let scriptImports: [String]

    public init(_ built: BuiltManifest, scriptImports: [String] = [], hasher: FileHasher = FileHasher()) {
        self.built = built
        self.scriptImports = scriptImports
        self.closure = ImportClosure(manifest: built.manifest)
        self.hasher = hasher
    }

    /// What `tree/read` sent for this snapshot so far (a `Mutex`: replies are built on the
    /// thread pool): `rfs run` logs it when the run ends, `scripts/bench-real` reads that line.
    public struct Served: Sendable, Equatable {
        /// `tree/read` requests answered.
        public var requests = 0
        /// Blobs sent whole or completed by their last chunk, and of those, the prefetched ones.
        public var files = 0
        public var prefetched = 0
        /// Bytes of file content sent (before encoding).
        public var bytes: Int64 = 0
    }

    let servedCounts = Mutex(Served())
    public var served: Served { servedCounts.withLock { $0 } }

    public var id: String { built.manifest.snapshot }
    public var entryCount: Int { built.locations.count }

    /// The entry of `name`'s module or package `__init__.py`, resolved as the worker's finder
    /// does (through the manifest), or nil.
    public func entry(forModule name: String) -> Int? {
        closure.closure(of: [name], read: { _ in nil }).first { closure.moduleName(ofEntry: $0) == name }
    }

    /// An entry as the user knows it: the client path.
    func clientPath(_ index: Int) -> String {
        guard let (root, file) = built.entry(index) else { return "entry \(index)" }
        return built.clientPath(root: root, file: file)
    }

    /// What went wrong reading an entry.
    struct ReadFailure: Error {
        var message: String
    }

    /// The bytes of entry `index` from `offset`, at most `limit` of them, after re-reading the
    /// whole file and checking its size and SHA-256 against the manifest. Synchronous I/O.
    func read(_ index: Int, offset: Int64 = 0, limit: Int = .max) throws(ReadFailure) -> [UInt8] {
        guard let (root, file) = built.entry(index) else { throw ReadFailure(message: "entry \(index) is not in the snapshot") }
        let path = built.clientPath(root: root, file: file)
        guard let expected = file.sha256 else {
            if file.path.hasSuffix(".py") {
                throw ReadFailure(
                    message: "\(path) (\(ByteCount.text(file.size))) is over the client's per-file limit (--max-file-size); it is not served")
            }
            throw ReadFailure(message: "\(path) is a native extension; rfs serves only Python source")
        }
        guard offset <= file.size else { throw ReadFailure(message: "\(path): offset \(offset) is past its end (\(file.size) bytes)") }
        let end = limit >= file.size ? file.size : min(file.size, offset + Int64(limit))
        var bytes: [UInt8] = []
        bytes.reserveCapacity(Int(end - offset))
        var digest = SHA256()
        let stamp: FileStamp
        do {
            stamp = try hasher.stream(location: built.locations[index], root: built.rootPaths[root], displayPath: path) {
                chunk, at throws(FileHasher.Failure) in
                digest.update(chunk)
                let chunkEnd = at + Int64(chunk.count)
                let from = max(at, offset)
                let to = min(chunkEnd, end)
                if from < to { bytes.append(contentsOf: chunk[Int(from - at)..<Int(to - at)]) }
            }
        } catch {
            throw ReadFailure(message: "\(path): \(error.reason)")
        }
        guard stamp.size == file.size, digest.finalizeHex() == expected else {
            throw ReadFailure(message: "\(path) changed on the client since the run started")
        }
        return bytes
    }
}
