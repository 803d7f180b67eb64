import RFSProtocol
import Synchronization

/// Maps connection ids (set by `set_connection_id`) to the session that serves them, so a
/// `fetch_module` raised by Python finds its way to the right client.
///
/// A `Mutex` owns the table: the bridge handler looks sessions up synchronously on the hot path
/// of every import. When two sessions claim one id the newer wins, and the older one's close
/// does not remove the newer mapping.
final class SessionRegistry: Sendable {
    struct Entry: Sendable {
        let sessionNumber: UInt64
        let peer: JSONRPCPeer
    }

    private let table = Mutex<[String: Entry]>([:])

    func claim(_ connectionID: String, sessionNumber: UInt64, peer: JSONRPCPeer) {
        table.withLock { $0[connectionID] = Entry(sessionNumber: sessionNumber, peer: peer) }
    }

    /// Removes `connectionID` only if `sessionNumber` still owns it; returns whether it did.
    @discardableResult
    func release(_ connectionID: String, sessionNumber: UInt64) -> Bool {
        table.withLock { table in
            guard table[connectionID]?.sessionNumber == sessionNumber else { return false }
            table[connectionID] = nil
            return true
        }
    }

    func peer(for connectionID: String) -> JSONRPCPeer? {
        table.withLock { $0[connectionID]?.peer }
    }
}

/// Every open session's peer, so shutdown can let in-flight replies (such as the answer to an
/// interrupted run) reach their clients before the connections close.
final class LiveSessions: Sendable {
    private let peers = Mutex<[UInt64: JSONRPCPeer]>([:])

    func insert(_ number: UInt64, _ peer: JSONRPCPeer) {
        peers.withLock { $0[number] = peer }
    }

    func remove(_ number: UInt64) {
        _ = peers.withLock { $0.removeValue(forKey: number) }
    }

    /// Waits until no open session owes a reply.
    func waitUntilIdle() async {
        for peer in peers.withLock({ Array($0.values) }) {
            await peer.waitUntilIdle()
        }
    }
}
