import RFSProtocol

/// The client's tree on the worker (DESIGN.md §7): the manifest a client sends with a run, and
/// `tree/read`, with which the run's host asks the client for the files its store lacks.
///
/// The worker offers it in `initialize` (``TreeOffer``); a client that does not see the offer
/// (or the reference's clients) sends no manifest, and its runs import through `fetch_module`.
extension WireMethod {
    /// Worker → client: blobs of a snapshot's files (``TreeReadParams`` → ``TreeReadResult``).
    public static let treeRead = "tree/read"
}

extension WireCapability {
    /// `{"max_reply_bytes": N}`: the worker takes a manifest in `run` (`"tree"`) and reads the
    /// files it lacks with `tree/read`.
    public static let tree = "tree"
}

/// The `tree` capability: the most encoded blob bytes the worker asks for in one `tree/read`.
public struct TreeOffer: Sendable, Equatable {
    public var maxReplyBytes: Int

    public init(maxReplyBytes: Int) {
        self.maxReplyBytes = maxReplyBytes
    }

    /// The offer for a worker whose messages may be `maxMessageSize` bytes: a quarter of it
    /// (JSON escapes and the envelope must fit too), at most 8 MiB so a reply never holds up the
    /// import that asked for it for long.
    public init(maxMessageSize: Int) {
        self.init(maxReplyBytes: max(64 << 10, min(8 << 20, maxMessageSize / 4)))
    }

    /// nil for anything but a positive integer: the worker does not take manifests.
    public init?(json: JSONValue?) {
        guard let bytes = json?["max_reply_bytes"]?.intValue, bytes > 0 else { return nil }
        self.init(maxReplyBytes: Int(clamping: bytes))
    }

    public var json: JSONValue { ["max_reply_bytes": .int(Int64(maxReplyBytes))] }
}

/// A manifest: the snapshot of the client's folders a run sees (`run` params member `"tree"`).
///
/// `{"snapshot": id, "roots": [{"path", "kind", "files": [[path, size, sha256|null], …]}]}`.
/// Files are numbered across roots in order (root 0's first): `tree/read` names them by that
/// *entry index*. A file whose sha256 is null is listed but not served (a native extension):
/// the worker's finder uses it to say why an import failed.
public struct TreeManifest: Sendable, Equatable {
    public enum RootKind: String, Sendable, Hashable {
        /// The script's own folder (importable as with `python job.py`), searched first.
        case script
        /// A `--source` folder.
        case source
    }

    public struct File: Sendable, Equatable {
        /// Relative to the root, `/`-separated, no `.`/`..`/empty components.
        public var path: String
        public var size: Int64
        /// Lowercase hex; nil when the file is listed but not served.
        public var sha256: String?

        public init(path: String, size: Int64, sha256: String?) {
            self.path = path
            self.size = size
            self.sha256 = sha256
        }
    }

    public struct Root: Sendable, Equatable {
        /// The client's absolute path of the folder: what tracebacks show.
        public var path: String
        public var kind: RootKind
        /// Sorted by path in code point order, unique.
        public var files: [File]

        /// The top-level module and package names the root offers: `NAME.py` and `NAME/__init__.py`
        /// (what a script root adds to the run's execution context; a source root's names,
        /// namespace packages included, come from its module index).
        public var topLevelNames: [String] {
            var names: [String] = []
            for file in files {
                let parts = file.path.split(separator: "/", maxSplits: 2)
                if parts.count == 1, parts[0].hasSuffix(".py") {
                    names.append(String(parts[0].dropLast(3)))
                } else if parts.count == 2, parts[1] == "__init__.py" {
                    names.append(String(parts[0]))
                }
            }
            return names
        }

        /// The top-level names whose only file here is a native extension (`NAME.cpython-311-….so`):
        /// they join the run's context so that importing one fails with the worker's explanation
        /// (the file was not served) rather than a bare "No module named".
        public var nativeTopLevelNames: [String] {
            files.compactMap { file in
                guard file.sha256 == nil, !file.path.contains("/"), let dot = file.path.firstIndex(of: ".") else { return nil }
                return String(file.path[..<dot])
            }
        }

        public init(path: String, kind: RootKind, files: [File]) {
            self.path = path
            self.kind = kind
            self.files = files
        }
    }

    public var snapshot: String
    public var roots: [Root]

    public init(snapshot: String, roots: [Root]) {
        self.snapshot = snapshot
        self.roots = roots
    }

    /// Entries across all roots.
    public var entryCount: Int { roots.reduce(0) { $0 + $1.files.count } }

    static let method = "run 'tree'"

    /// Decodes and validates a manifest: the host creates files at these paths, so a path that
    /// could leave the tree (`..`, absolute, a backslash, NUL) is refused here, naming it.
    public init(json: JSONValue) throws(JSONRPCError) {
        let reader = try WireReader(json, method: Self.method)
        snapshot = try reader.string("snapshot")
        guard case .array(let rootValues)? = reader.object["roots"] else { throw reader.fail("roots", "an array") }
        var roots: [Root] = []
        roots.reserveCapacity(rootValues.count)
        for (number, value) in rootValues.enumerated() {
            let root = try WireReader(value, method: "\(Self.method) root \(number)")
            let path = try root.string("path")
            guard !path.isEmpty else { throw root.fail("path", "a non-empty string") }
            guard let kind = RootKind(rawValue: try root.string("kind")) else { throw root.fail("kind", "\"script\" or \"source\"") }
            guard case .array(let fileValues)? = root.object["files"] else { throw root.fail("files", "an array") }
            var files: [File] = []
            files.reserveCapacity(fileValues.count)
            for value in fileValues {
                files.append(try Self.file(value, root: number))
            }
            roots.append(Root(path: path, kind: kind, files: files))
        }
        self.roots = roots
        try validateOrder()
    }

    private static func file(_ value: JSONValue, root: Int) throws(JSONRPCError) -> File {
        guard case .array(let fields) = value, fields.count == 3, case .string(let path) = fields[0],
            case .int(let size) = fields[1], size >= 0
        else {
            throw .invalidParams("\(method) root \(root): each file must be [path, size, sha256 or null], not \(value.serialized().prefix(120))")
        }
        if let problem = TreeManifest.problem(withPath: path) {
            throw .invalidParams("\(method) root \(root): file path \(JSONValue.string(path).serialized().prefix(200)) \(problem)")
        }
        switch fields[2] {
        case .null:
            return File(path: path, size: size, sha256: nil)
        case .string(let sha) where TreeManifest.isSHA256(sha):
            return File(path: path, size: size, sha256: sha)
        default:
            throw .invalidParams("\(method) root \(root): '\(path)': sha256 must be 64 lowercase hex digits or null")
        }
    }

    private func validateOrder() throws(JSONRPCError) {
        for (number, root) in roots.enumerated() {
            var previous: String?
            for file in root.files {
                if let previous, !CodePoints.less(previous, file.path) {
                    throw .invalidParams(
                        "\(Self.method) root \(number): files must be sorted by path and unique ('\(previous)' then '\(file.path)')")
                }
                previous = file.path
            }
        }
    }

    /// Why `path` is not a safe relative file path, or nil when it is.
    public static func problem(withPath path: String) -> String? {
        if path.isEmpty { return "is empty" }
        if path.utf8.first == UInt8(ascii: "/") { return "is absolute" }
        if path.utf8.contains(0) { return "contains NUL" }
        if path.utf8.contains(UInt8(ascii: "\\")) { return "contains a backslash" }
        for component in path.split(separator: "/", omittingEmptySubsequences: false) {
            if component.isEmpty || component == "." || component == ".." {
                return "has an empty, '.' or '..' component"
            }
        }
        return nil
    }

    static func isSHA256(_ text: String) -> Bool {
        text.utf8.count == 64
            && text.utf8.allSatisfy { ($0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9")) || ($0 >= UInt8(ascii: "a") && $0 <= UInt8(ascii: "f")) }
    }

    public var json: JSONValue {
        [
            "snapshot": .string(snapshot),
            "roots": .array(
                roots.map { root in
                    [
                        "path": .string(root.path), "kind": .string(root.kind.rawValue),
                        "files": .array(
                            root.files.map { file in
                                .array([.string(file.path), .int(file.size), .optional(file.sha256)])
                            }),
                    ]
                }),
        ]
    }
}

/// Code point order, the order of manifest paths (what Python's `sorted` gives for `str`).
enum CodePoints {
    static func less(_ a: String, _ b: String) -> Bool {
        a.unicodeScalars.lexicographicallyPrecedes(b.unicodeScalars)
    }
}

/// How a blob travels in a `tree/read` reply.
public enum BlobEncoding: String, Sendable, Hashable, CaseIterable {
    /// The file's bytes are valid UTF-8 and the JSON string is exactly its text.
    case utf8
    case base64
}

/// `tree/read` params: `{"snapshot", "entries": [index | [index, offset]], "max_bytes",
/// "missing"?: base64 bitset, "accept"?: [encoding], "prefetch_for"?: [index]}`.
public struct TreeReadParams: Sendable, Equatable {
    public struct Entry: Sendable, Hashable {
        public var index: Int
        /// Continue a blob from this byte (a previous reply's chunk ended there).
        public var offset: Int64

        public init(index: Int, offset: Int64 = 0) {
            self.index = index
            self.offset = offset
        }
    }

    /// The most entries (and `prefetch_for` entries) one `tree/read` may name.
    public static let maxEntries = 4096

    public var snapshot: String
    public var entries: [Entry]
    public var maxBytes: Int
    /// Bit i set: the worker lacks entry i and has not asked for it; nil: prefetch nothing.
    public var missing: TreeBitset?
    public var accept: Set<BlobEncoding>
    /// Modules (their entries) whose import closure to prefetch, without sending them: the
    /// worker's background continuation of an earlier reply that its budget cut short, sent
    /// while the worker compiles what it has (so the transfer overlaps the compile).
    public var prefetchFor: [Int]

    public init(
        snapshot: String, entries: [Entry], maxBytes: Int, missing: TreeBitset? = nil, accept: Set<BlobEncoding> = [.utf8, .base64],
        prefetchFor: [Int] = []
    ) {
        self.snapshot = snapshot
        self.entries = entries
        self.maxBytes = maxBytes
        self.missing = missing
        self.accept = accept
        self.prefetchFor = prefetchFor
    }

    public init(json: JSONValue?) throws(JSONRPCError) {
        let reader = try WireReader(json, method: WireMethod.treeRead)
        snapshot = try reader.string("snapshot")
        // Bounded: each requested entry gets at least a small chunk whatever `max_bytes` says,
        // so the count bounds what one reply may cost the client.
        guard case .array(let items)? = reader.object["entries"], items.count <= Self.maxEntries else {
            throw reader.fail("entries", "an array of at most \(Self.maxEntries) entries")
        }
        var entries: [Entry] = []
        entries.reserveCapacity(items.count)
        for item in items {
            switch item {
            case .int(let index) where index >= 0:
                entries.append(Entry(index: Int(clamping: index)))
            case .array(let pair):
                guard pair.count == 2, case .int(let index) = pair[0], case .int(let offset) = pair[1], index >= 0, offset >= 0 else {
                    throw reader.fail("entries", "an array of entry indexes or [index, offset] pairs")
                }
                entries.append(Entry(index: Int(clamping: index), offset: offset))
            default:
                throw reader.fail("entries", "an array of entry indexes or [index, offset] pairs")
            }
        }
        self.entries = entries
        let maxBytes = try reader.int("max_bytes")
        guard maxBytes > 0 else { throw reader.fail("max_bytes", "a positive integer") }
        self.maxBytes = Int(clamping: maxBytes)
        if let text = try reader.optionalString("missing") {
            guard let bits = TreeBitset(base64: text) else { throw reader.fail("missing", "a base64 string") }
            missing = bits
        } else {
            missing = nil
        }
        accept = Set((try reader.optionalStrings("accept") ?? []).compactMap(BlobEncoding.init(rawValue:)))
        accept.formUnion([.utf8, .base64])
        prefetchFor = []
        if let value = reader.object["prefetch_for"], value != .null {
            guard case .array(let items) = value, items.count <= Self.maxEntries else {
                throw reader.fail("prefetch_for", "an array of at most \(Self.maxEntries) entry indexes")
            }
            for item in items {
                guard case .int(let index) = item, index >= 0 else { throw reader.fail("prefetch_for", "an array of entry indexes") }
                prefetchFor.append(Int(clamping: index))
            }
        }
    }

    public var json: JSONValue {
        var object: [String: JSONValue] = [
            "snapshot": .string(snapshot),
            "entries": .array(entries.map { $0.offset == 0 ? .int(Int64($0.index)) : .array([.int(Int64($0.index)), .int($0.offset)]) }),
            "max_bytes": .int(Int64(maxBytes)),
            "accept": .strings(BlobEncoding.allCases.filter(accept.contains).map(\.rawValue)),
        ]
        if let missing { object["missing"] = .string(missing.base64) }
        if !prefetchFor.isEmpty { object["prefetch_for"] = .array(prefetchFor.map { .int(Int64($0)) }) }
        return .object(object)
    }
}

/// A set of entry indexes as the wire carries it: bit i is byte i/8, mask `1 << (i % 8)`.
public struct TreeBitset: Sendable, Equatable {
    public var bytes: [UInt8]

    public init(bytes: [UInt8]) {
        self.bytes = bytes
    }

    public init(count: Int) {
        bytes = [UInt8](repeating: 0, count: (count + 7) / 8)
    }

    public init?(base64: String) {
        guard let bytes = Base64.decode(base64) else { return nil }
        self.bytes = bytes
    }

    public var base64: String { Base64.encode(bytes) }

    public func contains(_ index: Int) -> Bool {
        guard index >= 0, index / 8 < bytes.count else { return false }
        return bytes[index / 8] & (1 << UInt8(index % 8)) != 0
    }

    public mutating func insert(_ index: Int) {
        precondition(index >= 0)
        if index / 8 >= bytes.count { bytes.append(contentsOf: repeatElement(0, count: index / 8 - bytes.count + 1)) }
        bytes[index / 8] |= 1 << UInt8(index % 8)
    }

    public mutating func remove(_ index: Int) {
        guard index >= 0, index / 8 < bytes.count else { return }
        bytes[index / 8] &= ~(1 << UInt8(index % 8))
    }
}

/// One blob (or a chunk of one) in a `tree/read` reply.
public struct TreeBlob: Sendable, Equatable {
    public enum Payload: Sendable, Equatable {
        case utf8(String)
        case base64(String)
    }

    public var entry: Int
    public var offset: Int64
    public var payload: Payload
    /// The chunk stops before the end of the file: ask again from `offset + its length`.
    public var more: Bool

    public init(entry: Int, offset: Int64 = 0, payload: Payload, more: Bool = false) {
        self.entry = entry
        self.offset = offset
        self.payload = payload
        self.more = more
    }

    public init(json: JSONValue) throws(JSONRPCError) {
        let reader = try WireReader(json, method: "tree/read result blob")
        let entry = try reader.int("entry")
        guard entry >= 0 else { throw reader.fail("entry", "a non-negative integer") }
        self.entry = Int(clamping: entry)
        offset = try reader.optionalInt("offset") ?? 0
        if let text = try reader.optionalString("utf8") {
            payload = .utf8(text)
        } else if let text = try reader.optionalString("base64") {
            payload = .base64(text)
        } else {
            throw reader.fail("utf8", "a string (or 'base64' one)")
        }
        more = try reader.bool("more", default: false)
    }

    public var json: JSONValue {
        var object: [String: JSONValue] = ["entry": .int(Int64(entry))]
        if offset != 0 { object["offset"] = .int(offset) }
        switch payload {
        case .utf8(let text): object["utf8"] = .string(text)
        case .base64(let text): object["base64"] = .string(text)
        }
        if more { object["more"] = true }
        return .object(object)
    }
}

/// `tree/read` result: `{"blobs": [blob], "failed": [{"entry", "message"}]}`.
public struct TreeReadResult: Sendable, Equatable {
    public struct Failure: Sendable, Equatable {
        public var entry: Int
        public var message: String

        public init(entry: Int, message: String) {
            self.entry = entry
            self.message = message
        }
    }

    public var blobs: [TreeBlob]
    public var failed: [Failure]
    /// `"more_prefetch": true`: the budget stopped the prefetch while the closure still had
    /// missing entries; the worker may continue with `prefetch_for` in the background.
    public var morePrefetch: Bool

    public init(blobs: [TreeBlob], failed: [Failure] = [], morePrefetch: Bool = false) {
        self.blobs = blobs
        self.failed = failed
        self.morePrefetch = morePrefetch
    }

    public init(json: JSONValue) throws(JSONRPCError) {
        let reader = try WireReader(json, method: "tree/read result")
        guard case .array(let blobValues)? = reader.object["blobs"] else { throw reader.fail("blobs", "an array") }
        var blobs: [TreeBlob] = []
        for value in blobValues { blobs.append(try TreeBlob(json: value)) }
        self.blobs = blobs
        var failed: [Failure] = []
        if case .array(let values)? = reader.object["failed"] {
            for value in values {
                let item = try WireReader(value, method: "tree/read result failure")
                failed.append(Failure(entry: Int(clamping: try item.int("entry")), message: try item.string("message")))
            }
        }
        self.failed = failed
        morePrefetch = reader.object["more_prefetch"] == .bool(true)
    }

    public var json: JSONValue {
        var object: [String: JSONValue] = [
            "blobs": .array(blobs.map(\.json)),
            "failed": .array(failed.map { ["entry": .int(Int64($0.entry)), "message": .string($0.message)] }),
        ]
        if morePrefetch { object["more_prefetch"] = .bool(true) }
        return .object(object)
    }
}

/// The run's tree as the daemon hands it to the run's host (`HostRunParams` member `"tree"`):
/// `{"dir", "store", "max_reply_bytes", "manifest"}`.
public struct HostTree: Sendable, Equatable {
    /// The run's materialized tree: root k of the manifest is `dir/k/`.
    public var directory: String
    /// The node's store (blobs and compiled code), shared by every host.
    public var store: String
    public var maxReplyBytes: Int
    public var manifest: TreeManifest

    public init(directory: String, store: String, maxReplyBytes: Int, manifest: TreeManifest) {
        self.directory = directory
        self.store = store
        self.maxReplyBytes = maxReplyBytes
        self.manifest = manifest
    }

    public init(json: JSONValue) throws(JSONRPCError) {
        let reader = try WireReader(json, method: "run 'tree' (host)")
        directory = try reader.string("dir")
        store = try reader.string("store")
        maxReplyBytes = Int(clamping: try reader.int("max_reply_bytes"))
        guard let manifest = reader.object["manifest"] else { throw reader.fail("manifest", "an object") }
        self.manifest = try TreeManifest(json: manifest)
    }

    public var json: JSONValue {
        [
            "dir": .string(directory), "store": .string(store), "max_reply_bytes": .int(Int64(maxReplyBytes)),
            "manifest": manifest.json,
        ]
    }
}
