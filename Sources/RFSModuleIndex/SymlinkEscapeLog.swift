import Logging
import Synchronization

/// Warns once per path about a symlink that points outside the root.
///
/// Directories are re-read on every lookup miss, so without this a single stray symlink would
/// log on every failed import. Its `Mutex` guards only the set of paths already reported.
final class SymlinkEscapeLog: Sendable {
    private let root: String
    private let logger: Logger
    private let reported = Mutex<Set<String>>([])

    init(root: String, logger: Logger) {
        self.root = root
        self.logger = logger
    }

    func report(relativePath: String, target: String) {
        let isNew = reported.withLock { $0.insert(relativePath).inserted }
        if isNew {
            logger.warning(
                "symlink points outside the source folder; not served",
                metadata: ["path": "\(relativePath)", "target": "\(target)", "root": "\(root)"])
        } else {
            logger.trace("symlink outside the source folder skipped", metadata: ["path": "\(relativePath)"])
        }
    }
}
