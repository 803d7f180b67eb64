import Logging
import Synchronization

/// Logs each distinct warning (symlink leaving the root, unreadable directory) once per index.
///
/// Directories are re-read on every lookup miss, so without this a single stray symlink or locked
/// directory would log on every failed import. Its `Mutex` guards only the set of keys already
/// reported; repeats go to `trace`.
final class WarnOnceLog: Sendable {
    private let logger: Logger
    private let reported = Mutex<Set<String>>([])

    init(logger: Logger) {
        self.logger = logger
    }

    /// Logs `message` at `warning` the first time `key` is seen, at `trace` afterwards.
    func warn(key: String, _ message: Logger.Message, metadata: Logger.Metadata) {
        let isNew = reported.withLock { $0.insert(key).inserted }
        logger.log(level: isNew ? .warning : .trace, message, metadata: metadata)
    }
}
