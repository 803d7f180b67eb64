import CRFSSystem
import Foundation
import RFSPython
import RFSWire

/// The run host's end of its fetch channel: ``BridgeTransport`` for `_rfs_bridge.request`.
///
/// The Python thread that imports writes the `host/fetch` request and reads the reply itself,
/// without the GIL, so a round trip costs no thread hand-off in the host. Several Python threads
/// may import at once: requests go out in any order, and whichever waiting thread finds the
/// channel unattended reads it (the "leader"), keeping replies for the others and waking them.
/// An interrupted import abandons its request; its reply, if it comes, is dropped.
///
/// The deadline is the worker's (`--fetch-timeout`); the host waits until the worker answers or
/// the channel closes.
final class FetchChannel: BridgeTransport, @unchecked Sendable {
    private let descriptor: Int32
    private let maxPayload: Int
    /// An eventfd: readable while a wake-up is pending for the leader's poll.
    private let wakeDescriptor: Int32
    private let onWake: @Sendable () -> Void
    // Guarded by `condition`:
    private let condition = NSCondition()
    private var nextID: Int64 = 1
    private var waiting: Set<Int64> = []
    private var replies: [Int64: String] = [:]
    private var leaderActive = false
    private var closedReason: String?
    private var wakeGeneration: UInt64 = 0
    /// Serialises writes of whole frames.
    private let writeLock = NSLock()

    /// - Parameter onWake: also called by ``wake()`` (the control writer's output waits end too).
    init(descriptor: Int32, maxMessageSize: Int, onWake: @escaping @Sendable () -> Void) {
        self.descriptor = descriptor
        self.maxPayload = HostFrame.maxPayload(maxMessageSize: maxMessageSize)
        self.wakeDescriptor = rfs_eventfd()
        self.onWake = onWake
    }

    func send(connectionID: String, method: String, paramsJSON: String, timeout: Double?) -> Result<UInt64, BridgeRequestError> {
        condition.lock()
        if let closedReason {
            condition.unlock()
            return .failure(.connectionLost(closedReason))
        }
        let id = nextID
        nextID += 1
        waiting.insert(id)
        condition.unlock()
        let message = HostFetchParams.message(
            id: id, connectionID: connectionID, method: method, paramsJSON: paramsJSON, timeout: timeout)
        let frame = FrameIO.frame(message)
        writeLock.lock()
        let ok = frame.withUnsafeBytes { FrameIO.writeAll(descriptor, $0) }
        writeLock.unlock()
        guard ok else {
            close(reason: "the worker closed the fetch channel")
            condition.lock()
            waiting.remove(id)
            condition.unlock()
            return .failure(.connectionLost("\(method) to connection '\(connectionID)': the worker is gone"))
        }
        return .success(UInt64(id))
    }

    func wait(for ticket: UInt64) -> BridgeTransportWait {
        let id = Int64(ticket)
        condition.lock()
        let generation = wakeGeneration
        while true {
            if let reply = replies.removeValue(forKey: id) {
                waiting.remove(id)
                condition.unlock()
                return Self.outcome(of: reply, id: id)
            }
            if let closedReason {
                waiting.remove(id)
                condition.unlock()
                return .failure(.connectionLost(closedReason))
            }
            if generation != wakeGeneration {
                condition.unlock()
                return .woken
            }
            if leaderActive {
                condition.wait()
                continue
            }
            // Lead: read frames until ours arrives, a wake-up, or a signal.
            leaderActive = true
            condition.unlock()
            let read = readOne()
            condition.lock()
            leaderActive = false
            condition.broadcast()  // a follower may lead now, or find its reply
            switch read {
            case .frame(let text):
                if let replyID = HostFetchReply.id(of: text), waiting.contains(replyID) {
                    replies[replyID] = text
                }  // else: the reply of an abandoned request
            case .interrupted:
                condition.unlock()
                return .woken
            case .closed(let reason):
                closedReason = closedReason ?? reason
            case .nothing:
                break
            }
        }
    }

    func abandon(_ ticket: UInt64) {
        let id = Int64(ticket)
        condition.lock()
        waiting.remove(id)
        replies.removeValue(forKey: id)
        condition.unlock()
        // Let the worker stop waiting for the client too.
        let notice = #"{"jsonrpc":"2.0","method":"$/cancelRequest","params":{"id":\#(id)}}"#
        let frame = FrameIO.frame(notice)
        writeLock.lock()
        _ = frame.withUnsafeBytes { FrameIO.writeAll(descriptor, $0) }
        writeLock.unlock()
    }

    func wake() {
        condition.lock()
        wakeGeneration &+= 1
        condition.broadcast()
        condition.unlock()
        rfs_eventfd_signal(wakeDescriptor)
        onWake()
    }

    private enum Read {
        case frame(String)
        case interrupted
        case closed(String)
        case nothing
    }

    /// Waits for the channel (or a wake-up, or a signal) and reads one frame.
    private func readOne() -> Read {
        switch rfs_wait_readable(descriptor, wakeDescriptor) {
        case 1:
            switch FrameIO.readFrame(descriptor, maxPayload: maxPayload) {
            case .frame(let text): return .frame(text)
            case .closed: return .closed("the worker closed the fetch channel")
            case .oversized(let length):
                return .closed("the worker sent a fetch reply of \(length) bytes, over the limit of \(maxPayload)")
            }
        case 2:
            rfs_eventfd_drain(wakeDescriptor)
            return .interrupted
        case 0:
            return .interrupted  // a signal: let Python run its handlers
        default:
            return .nothing
        }
    }

    private func close(reason: String) {
        condition.lock()
        closedReason = closedReason ?? reason
        condition.broadcast()
        condition.unlock()
    }

    private static func outcome(of text: String, id: Int64) -> BridgeTransportWait {
        switch HostFetchReply.parse(text, expecting: id) {
        case .reply(let reply)?:
            return .reply(String(reply))
        case .failure(let reason, let message)?:
            switch reason {
            case .timeout: return .failure(.timedOut(message))
            case .connectionLost: return .failure(.connectionLost(message))
            case .refused: return .failure(.refused(message))
            case .failed: return .failure(.failed(message))
            }
        case nil:
            return .failure(.failed("malformed reply from the worker: \(text.prefix(200))"))
        }
    }
}
