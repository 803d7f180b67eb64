#if Deephaven
import RFSDeephaven
import Testing

/// Deephaven's log is server-wide and records are lines (a partial line is held back and glued
/// to the next write): the fence finds one command's output in it.
@Suite struct OutputFenceTests {
    @Test("only what lies between the markers is the command's; the end marker carries the status")
    func fencesOneCommand() {
        var fence = OutputFence(nonce: "n1")
        #expect(fence.feed(level: "STDOUT", text: "someone else's line\n") == [])
        #expect(fence.feed(level: "STDOUT", text: fence.start) == [])
        #expect(fence.feed(level: "STDOUT", text: "hello\n") == [.write(.stdout, "hello\n")])
        #expect(fence.feed(level: "STDERR", text: "warning\n") == [.write(.stderr, "warning\n")])
        #expect(fence.feed(level: "INFO", text: "Evaluating command\n") == [])
        #expect(fence.feed(level: "STDOUT", text: "\u{1}rfs-n1-end 3\n") == [.finished(status: 3)])
        #expect(fence.feed(level: "STDOUT", text: "after\n") == [])
    }

    @Test("a partial line glued to a marker is split from it")
    func gluedPartialLines() {
        var fence = OutputFence(nonce: "n2")
        #expect(fence.feed(level: "STDOUT", text: "earlier partial\(fence.start)first\n") == [.write(.stdout, "first\n")])
        #expect(fence.feed(level: "STDOUT", text: "no newline\u{1}rfs-n2-end 0\n") == [.write(.stdout, "no newline"), .finished(status: 0)])
    }

    @Test("another command's markers do not end this one")
    func otherNonces() {
        var fence = OutputFence(nonce: "mine")
        _ = fence.feed(level: "STDOUT", text: fence.start)
        #expect(fence.feed(level: "STDOUT", text: "\u{1}rfs-theirs-end 1\n") == [.write(.stdout, "\u{1}rfs-theirs-end 1\n")])
        #expect(fence.feed(level: "STDOUT", text: "\u{1}rfs-mine-end 256\n") == [.finished(status: 256)])
    }
}
#endif  // Deephaven
