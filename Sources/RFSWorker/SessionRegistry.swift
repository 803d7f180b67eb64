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
