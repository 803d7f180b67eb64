import RFSModuleIndex

/// Why a run's manifest could not be built; `description` is the one line `rfs run` prints.
public enum ManifestError: Error, Sendable, CustomStringConvertible {
    /// A root folder could not be listed.
    case unreadableRoot(path: String, reason: String)
    /// Over `--max-tree-size` or the file-count cap, with what to exclude.
    case tooLarge(TooLarge)

    public enum Limit: Sendable, Equatable {
        /// `--max-tree-size`, and the hashed bytes found.
        case bytes(Int64, found: Int64)
        /// The most files a manifest lists.
        case files(Int)
    }

    public struct TooLarge: Sendable {
        public var limit: Limit
        /// Up to five biggest top-level entries (client path, bytes), biggest first.
        public var topLevelEntries: [(String, Int64)]
        /// Up to three biggest files (client path, bytes), biggest first.
        public var biggestFiles: [(String, Int64)]
    }

    public var description: String {
        switch self {
        case .unreadableRoot(let path, let reason):
            return "cannot list \(path) for the run's tree: \(reason)"
        case .tooLarge(let report):
            let head: String
            switch report.limit {
            case .bytes(let limit, let found):
                head = "the run's tree holds \(ByteCount.text(found)) of files, more than --max-tree-size \(ByteCount.text(limit))"
            case .files(let limit):
                head = "the run's tree holds more than \(limit) files (the most a manifest lists)"
            }
            let entries = report.topLevelEntries.map { "\($0.0) (\(ByteCount.text($0.1)))" }.joined(separator: ", ")
            let files = report.biggestFiles.map { "\($0.0) (\(ByteCount.text($0.1)))" }.joined(separator: ", ")
            return "\(head); biggest top-level entries: \(entries); biggest files: \(files). "
                + "Use --exclude to leave them out, or raise --max-tree-size."
        }
    }
}
