import CRFSSystem
import Foundation
import RFSWire

/// Blocking reads and writes of ``HostFrame``s on one descriptor of the run host.
///
/// The host has no event loop: its channels are read by threads that may block (a reader thread
/// for control, Python's own threads for fetches), which keeps an import's round trip free of
/// thread hand-offs on this side.
enum FrameIO {
    enum ReadOutcome {
        case frame(String)
        /// The other end closed the channel (the worker is gone).
        case closed
        /// A frame longer than the limit: the channel is out of step and unusable.
        case oversized(Int)
    }

    /// Reads exactly `count` bytes; false at end of file or on an error other than EINTR.
    static func readExactly(_ descriptor: Int32, into buffer: UnsafeMutableRawBufferPointer) -> Bool {
        var offset = 0
        while offset < buffer.count {
            let got = read(descriptor, buffer.baseAddress! + offset, buffer.count - offset)
            if got > 0 {
                offset += got
            } else if got == 0 {
                return false
            } else if errno != EINTR {
                return false
            }
        }
        return true
    }

    /// Reads one frame. Blocks; only call when the descriptor has data or a block is acceptable.
    static func readFrame(_ descriptor: Int32, maxPayload: Int) -> ReadOutcome {
        var header = [UInt8](repeating: 0, count: HostFrame.headerSize)
        let gotHeader = header.withUnsafeMutableBytes { readExactly(descriptor, into: $0) }
        guard gotHeader else { return .closed }
        let length = HostFrame.length(header: header)
        guard length <= maxPayload else { return .oversized(length) }
        if length == 0 { return .frame("") }
        let text = String(unsafeUninitializedCapacity: length) { buffer in
            readExactly(descriptor, into: UnsafeMutableRawBufferPointer(buffer)) ? length : 0
        }
        return text.utf8.count == length ? .frame(text) : .closed
    }

    /// Writes all of `bytes`; false when the channel is closed.
    static func writeAll(_ descriptor: Int32, _ bytes: UnsafeRawBufferPointer) -> Bool {
        rfs_write_all(descriptor, bytes.baseAddress, bytes.count) == 0
    }

    /// The frame for `text`: header and payload in one buffer, so one `write` sends both.
    static func frame(_ text: String) -> [UInt8] {
        var bytes = HostFrame.header(length: text.utf8.count)
        bytes.append(contentsOf: text.utf8)
        return bytes
    }
}
