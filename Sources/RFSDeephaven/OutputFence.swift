#if Deephaven
/// Finds one command's output in Deephaven's server-wide log.
///
/// A Deephaven server has one log for every console's stdout and stderr, so `rfs` fences its
/// command's output with two unique markers the command writes to stdout: everything between
/// them is the command's (other sessions' output written meanwhile is interleaved and cannot be
/// told apart; Deephaven offers nothing finer), and the end marker carries the exit status, which
/// also proves every earlier record has been seen. A pure state machine: fed records in log
/// order, it returns what to print and, at the end, the status.
public struct OutputFence: Sendable {
    public enum Stream: Sendable, Equatable { case stdout, stderr }

    public enum Action: Sendable, Equatable {
        case write(Stream, String)
        /// The end marker: the command's status (its `SystemExit` code, 1 for an exception).
        case finished(status: Int64)
    }

    private enum State: Sendable { case beforeStart, inside, finished }

    /// Written by the command before anything else.
    public let start: String
    /// Python `%`-format of the end marker: `end % status`.
    public let endFormat: String
    private let endPrefix: String
    private var state = State.beforeStart
    /// A partial end marker held back from output until the rest arrives.
    private var pending = ""

    public init(nonce: String) {
        start = "\u{1}rfs-\(nonce)-start\n"
        endPrefix = "\u{1}rfs-\(nonce)-end "
        endFormat = endPrefix + "%d\n"
    }

    /// What `text` from `level` (Deephaven's `STDOUT` or `STDERR`) means for the command.
    public mutating func feed(level: String, text: String) -> [Action] {
        let stream: Stream
        switch level {
        case "STDOUT": stream = .stdout
        case "STDERR": stream = .stderr
        default: return []
        }
        switch state {
        case .finished:
            return []
        case .beforeStart:
            guard stream == .stdout, let range = text.range(of: start) else { return [] }
            state = .inside
            return feed(level: level, text: String(text[range.upperBound...]))
        case .inside:
            guard stream == .stdout else { return text.isEmpty ? [] : [.write(.stderr, text)] }
            let combined = pending + text
            pending = ""
            if let range = combined.range(of: endPrefix) {
                let tail = combined[range.upperBound...]
                guard let newline = tail.firstIndex(of: "\n") else {
                    pending = String(combined[range.lowerBound...])
                    let before = String(combined[..<range.lowerBound])
                    return before.isEmpty ? [] : [.write(.stdout, before)]
                }
                state = .finished
                let before = String(combined[..<range.lowerBound])
                let status = Int64(tail[..<newline]) ?? 1
                return (before.isEmpty ? [] : [.write(.stdout, before)]) + [.finished(status: status)]
            }
            // Hold back a suffix that could be the start of the end marker split across records.
            if let marker = combined.lastIndex(of: "\u{1}"), endPrefix.hasPrefix(String(combined[marker...])) {
                pending = String(combined[marker...])
                let before = String(combined[..<marker])
                return before.isEmpty ? [] : [.write(.stdout, before)]
            }
            return combined.isEmpty ? [] : [.write(.stdout, combined)]
        }
    }
}
#endif  // Deephaven
