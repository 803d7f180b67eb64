import NIOCore
import Testing

@testable import RFSWorker

/// What the daemon makes of a host's raw stdout/stderr bytes and of its exit status.
@Suite("Host output and exit")
struct HostOutputTests {
    @Test("UTF-8 split across reads is decoded whole, in order")
    func utf8AcrossReads() {
        let text = "a€b😀c"
        let bytes = Array(text.utf8)
        for cut1 in 0...bytes.count {
            for cut2 in cut1...bytes.count {
                var carry = UTF8Carry()
                var decoded = ""
                for range in [0..<cut1, cut1..<cut2, cut2..<bytes.count] {
                    decoded += carry.decode(ByteBuffer(bytes: bytes[range]))
                }
                #expect(decoded == text, "cuts \(cut1), \(cut2)")
            }
        }
    }

    @Test("invalid bytes become replacement characters, not a stall")
    func invalidBytes() {
        var carry = UTF8Carry()
        #expect(carry.decode(ByteBuffer(bytes: [0x61, 0xFF, 0x62])) == "a\u{FFFD}b")
    }

    @Test("wait statuses: exit codes and signals")
    func exitStatuses() {
        #expect(HostExitStatus(waitStatus: 3 << 8) == HostExitStatus(signal: nil, exitCode: 3))
        #expect(HostExitStatus(waitStatus: 11) == HostExitStatus(signal: 11, exitCode: nil))
        #expect(HostExitStatus(waitStatus: 11 | 0x80) == HostExitStatus(signal: 11, exitCode: nil))  // core dumped
        #expect(HostExitStatus(waitStatus: 9).crash(reason: "run_memory").signal == "SIGKILL")
        #expect(HostExitStatus(waitStatus: 3 << 8).crash().exitCode == 3)
    }
}
