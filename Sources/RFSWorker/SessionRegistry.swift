import RFSProtocol
import Synchronization

/// Maps connection ids (set by `set_connection_id`) to the session that serves them, so a
/// `fetch_module` raised by Python finds its way to the right client, and records which token
/// (principal name) owns each id.
///
/// A `Mutex` owns the table: the bridge handler looks sessions up synchronously on the hot path
/// of every import.
///
/// **Ownership** (issue 10): a connection id belongs to the principal whose session claimed it
/// first, for as long as some session holds it. Another principal's claim is refused; the same
/// principal may claim it again (a reconnecting client), and then the newer session serves it and
/// the older one's close does not remove the newer mapping. Once no session holds the id, anyone
/// may claim it.
final class SessionRegistry: Sendable {
    struct Entry: Sendable {
        let sessionNumber: UInt64
        let peer: JSONRPCPeer
        /// The name of the principal that owns the id.
        let owner: String
    }

    /// How a claim ended.
    enum Claim: Equatable, Sendable {
        case claimed
        /// Another principal's session holds the id; nothing changed.
        case ownedByAnother
    }

    private let table = Mutex<[String: Entry]>([:])

    func claim(_ connectionID: String, sessionNumber: UInt64, peer: JSONRPCPeer, owner: String) -> Claim {
        table.withLock { table in
            if let current = table[connectionID], current.owner != owner {
                return .ownedByAnother
            }
            table[connectionID] = Entry(sessionNumber: sessionNumber, peer: peer, owner: owner)
            return .claimed
        }
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

    /// The name of the principal that owns `connectionID`; nil while no session holds it.
    func owner(of connectionID: String) -> String? {
        table.withLock { $0[connectionID]?.owner }
    }

    /// The session serving `connectionID` and its owner, read together.
    func entry(for connectionID: String) -> Entry? {
        table.withLock { $0[connectionID] }
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
