import Logging
import NIOPosix
import RFSManifest
import RFSProtocol
import RFSWire
import Synchronization

/// Answers the worker's `tree/read` (DESIGN.md §7) for the session's snapshots: the requested
/// entries first, in request order (whole, or a base64 chunk from the asked offset), then the
/// missing entries the requested modules will import, whole, while `max_bytes` allows.
///
/// Every served file is read again and checked against the manifest's size and SHA-256; one
/// that changed or cannot be read is a `failed` entry naming the client path.
///
/// ``snapshots`` (a `Mutex`) owns the list of live snapshots, the last ``maxSnapshots``. File
/// reads run on `NIOThreadPool.singleton` (``handle(_:)``), never on the event loop or the
/// cooperative pool; ``read(_:)`` is the synchronous core.
public final class TreeServer: Sendable {
    public static let maxSnapshots = 4
    /// The smallest chunk a requested entry gets even when the budget is spent (bytes, before
    /// base64), so that progress never stalls on tiny chunks.
    static let minimumChunk = 3 * 1024

    private let snapshots = Mutex<[TreeSnapshot]>([])
    private let logger: Logger
    /// The most one reply carries (bytes of blob strings), whatever `max_bytes` the worker asks
    /// for: what one `tree/read` may cost the client is bounded by this, not by the worker.
    public let maxReplyBytes: Int

    /// `maxReplyBytes` defaults to what the worker itself offers with a 64 MiB message limit.
    public init(maxReplyBytes: Int = TreeOffer(maxMessageSize: 64 << 20).maxReplyBytes, logger: Logger = Logger(label: "rfs.tree")) {
        self.maxReplyBytes = max(1, maxReplyBytes)
        self.logger = logger
    }

    /// Serves `snapshot` from now on; the oldest is dropped beyond ``maxSnapshots``.
    public func add(_ snapshot: TreeSnapshot) {
        snapshots.withLock { list in
            list.removeAll { $0.id == snapshot.id }
            list.append(snapshot)
            if list.count > Self.maxSnapshots { list.removeFirst(list.count - Self.maxSnapshots) }
        }
    }

    public func snapshot(_ id: String) -> TreeSnapshot? {
        snapshots.withLock { list in list.last { $0.id == id } }
    }

    /// The `tree/read` handler: decodes, reads on the thread pool, encodes.
    public func handle(_ params: JSONValue?) async throws -> JSONValue {
        let request = try TreeReadParams(json: params)
        let started = ContinuousClock.now
        // The reply carries at most this many bytes of blob strings (plus the entries' small
        // fields): reserved before reading, so concurrent reads stay within the reply budget.
        try await JSONRPCPeer.reserveReplyBytes(min(request.maxBytes, maxReplyBytes) + 64 * request.entries.count + 1024)
        let result = try await NIOThreadPool.singleton.runIfActive { [self] in try read(request) }
        let json = result.json
        logger.debug(
            "tree/read answered",
            metadata: [
                "snapshot": "\(request.snapshot)", "requested": "\(request.entries.count)", "blobs": "\(result.blobs.count)",
                "failed": "\(result.failed.count)", "duration": "\(ContinuousClock.now - started)",
            ])
        return json
    }

    /// Answers one `tree/read`. Synchronous file I/O: run it off the event loop and the pool.
    ///
    /// - Throws: `-32602` for an unknown snapshot or an entry index it does not have.
    public func read(_ params: TreeReadParams) throws(JSONRPCError) -> TreeReadResult {
        guard let snapshot = snapshot(params.snapshot) else {
            throw .invalidParams("tree/read: unknown snapshot '\(params.snapshot)'")
        }
        for index in params.entries.map(\.index) + params.prefetchFor where index >= snapshot.entryCount {
            throw .invalidParams("tree/read: entry \(index) is not in snapshot '\(params.snapshot)' (\(snapshot.entryCount) entries)")
        }
        let allowUTF8 = params.accept.contains(.utf8)
        var remaining = min(params.maxBytes, maxReplyBytes)
        var result = TreeReadResult(blobs: [])
        var sent = Set<Int>()
        var sentSource: [Int: [UInt8]] = [:]

        for entry in params.entries {
            sent.insert(entry.index)
            guard let (_, file) = snapshot.built.entry(entry.index) else { continue }
            do {
                let left = file.size - min(entry.offset, file.size)
                if entry.offset == 0, left <= Int64(remaining) || Self.base64Length(left) <= Int64(remaining) {
                    let bytes = try snapshot.read(entry.index)
                    if file.path.hasSuffix(".py") { sentSource[entry.index] = bytes }
                    let blob = Self.wholeBlob(entry.index, bytes, allowUTF8: allowUTF8)
                    if Self.encodedLength(blob) <= remaining {
                        remaining -= Self.encodedLength(blob)
                        result.blobs.append(blob)
                        continue
                    }
                }
                // A chunk: base64 of up to 3/4 of what is left of the budget.
                let chunk = max(Self.minimumChunk, 3 * (max(remaining, 0) / 4))
                let bytes = try snapshot.read(entry.index, offset: entry.offset, limit: chunk)
                let more = entry.offset + Int64(bytes.count) < file.size
                let blob = TreeBlob(entry: entry.index, offset: entry.offset, payload: .base64(Base64.encode(bytes)), more: more)
                remaining -= Self.encodedLength(blob)
                result.blobs.append(blob)
            } catch {
                logger.warning("tree/read failed", metadata: ["entry": "\(entry.index)", "reason": "\(error.message)"])
                result.failed.append(.init(entry: entry.index, message: error.message))
            }
        }

        let requested = result.blobs.count
        defer { Self.count(result, requested: requested, in: snapshot) }
        guard let missing = params.missing else { return result }
        guard remaining > 0 else {
            result.morePrefetch = true  // the requested entries took the whole budget
            return result
        }
        var modules: [String] = []
        for index in params.entries.map(\.index) + params.prefetchFor {
            if let name = snapshot.closure.moduleName(ofEntry: index), !modules.contains(name) { modules.append(name) }
        }
        if snapshot.served.requests == 0 {
            modules += snapshot.scriptImports.filter { !modules.contains($0) }
        }
        guard !modules.isEmpty else { return result }
        let asked = Set(params.entries.map(\.index) + params.prefetchFor)
        // Only modules asked for or that the worker lacks are read to follow their imports: what
        // it has, it has imported before, and a module edited since is missing, so it is read
        // (after an edit, a run's one request costs one file, not a walk through the closure).
        // The walk scans a module right after sending it: the bytes just sent are scanned, not
        // read again (`sentSource`: .py files sent in this reply, at most `max_bytes` of them).
        snapshot.closure.closure(of: modules, read: { index in
            if let bytes = sentSource.removeValue(forKey: index) { return bytes }
            return missing.contains(index) || asked.contains(index) ? try? snapshot.read(index) : nil
        }) { index in
            guard missing.contains(index), !sent.contains(index), let (_, file) = snapshot.built.entry(index), file.sha256 != nil
            else { return remaining > 0 }
            guard min(file.size, Self.base64Length(file.size)) <= Int64(remaining) else {
                result.morePrefetch = true  // a missing entry of the closure that did not fit
                return remaining > 0
            }
            sent.insert(index)
            guard let bytes = try? snapshot.read(index) else { return true }  // a requested read reports it
            if file.path.hasSuffix(".py") { sentSource[index] = bytes }
            let blob = Self.wholeBlob(index, bytes, allowUTF8: allowUTF8)
            let length = Self.encodedLength(blob)
            if length <= remaining {
                remaining -= length
                result.blobs.append(blob)
            } else {
                result.morePrefetch = true
            }
            if remaining <= 0 { result.morePrefetch = true }  // the walk stops here: more may follow
            return remaining > 0
        }
        return result
    }

    /// Adds one reply to the snapshot's ``TreeSnapshot/served`` counts; its first `requested`
    /// blobs answer the request, the rest are prefetched.
    private static func count(_ result: TreeReadResult, requested: Int, in snapshot: TreeSnapshot) {
        var files = 0
        var bytes: Int64 = 0
        for blob in result.blobs where !blob.more {
            files += 1
        }
        for blob in result.blobs {
            switch blob.payload {
            case .utf8(let text): bytes += Int64(text.utf8.count)
            case .base64(let text):
                let padding = text.hasSuffix("==") ? 2 : text.hasSuffix("=") ? 1 : 0
                bytes += Int64(text.utf8.count / 4 * 3 - padding)
            }
        }
        let prefetched = result.blobs.count - requested
        snapshot.servedCounts.withLock { served in
            served.requests += 1
            served.files += files
            served.prefetched += prefetched
            served.bytes += bytes
        }
    }

    static func wholeBlob(_ index: Int, _ bytes: [UInt8], allowUTF8: Bool) -> TreeBlob {
        if allowUTF8, let text = String(validating: bytes, as: UTF8.self) {
            return TreeBlob(entry: index, payload: .utf8(text))
        }
        return TreeBlob(entry: index, payload: .base64(Base64.encode(bytes)))
    }

    /// What a blob counts against `max_bytes`: its string's length in bytes.
    static func encodedLength(_ blob: TreeBlob) -> Int {
        switch blob.payload {
        case .utf8(let text): text.utf8.count
        case .base64(let text): text.utf8.count
        }
    }

    static func base64Length(_ count: Int64) -> Int64 { (count + 2) / 3 * 4 }
}
