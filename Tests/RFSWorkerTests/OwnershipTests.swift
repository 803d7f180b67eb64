import RFSProtocol
import RFSTransport
import RFSWire
import Testing

@testable import RFSWorker

/// Issue 10: a connection id belongs to the token that claimed it while a session holds it, and a
/// run may only use connection ids of its own token (or any, with `admin`).
@Suite("Connection-id ownership")
struct OwnershipTests {
    static let alice = Principal(name: "alice", permissions: [.run, .serve])
    static let bob = Principal(name: "bob", permissions: [.run, .serve])
    static let ops = Principal(name: "ops", permissions: .admin)

    private func peer(_ label: String) -> JSONRPCPeer {
        JSONRPCPeer(label: label, send: { _ in })
    }

    @Test("another token's claim is refused; the same token may re-claim from a new session")
    func takeoverRefusedReclaimAllowed() {
        let registry = SessionRegistry()
        let first = peer("alice 1")
        #expect(registry.claim("id-1", sessionNumber: 1, peer: first, owner: "alice") == .claimed)
        #expect(registry.claim("id-1", sessionNumber: 2, peer: peer("bob"), owner: "bob") == .ownedByAnother)
        #expect(registry.peer(for: "id-1") === first, "a refused claim changes nothing")
        #expect(registry.claim("id-1", sessionNumber: 2, peer: peer("admin"), owner: "ops") == .ownedByAnother,
                "admin runs with any id, but does not take ids over")

        let second = peer("alice 2")
        #expect(registry.claim("id-1", sessionNumber: 3, peer: second, owner: "alice") == .claimed)
        #expect(registry.peer(for: "id-1") === second)
        #expect(!registry.release("id-1", sessionNumber: 1), "the older session's close keeps the newer claim")
        #expect(registry.owner(of: "id-1") == "alice")
        #expect(registry.release("id-1", sessionNumber: 3))
        #expect(registry.owner(of: "id-1") == nil)
        #expect(registry.claim("id-1", sessionNumber: 4, peer: peer("bob"), owner: "bob") == .claimed,
                "once no session holds the id, anyone may claim it")
    }

    @Test("a run may name its own token's ids and unheld ids; another token's only with admin")
    func runContextRule() throws {
        let registry = SessionRegistry()
        _ = registry.claim("alice-id", sessionNumber: 1, peer: peer("alice"), owner: "alice")
        let alice = RunRequester(principal: Self.alice, registry: registry)
        let bob = RunRequester(principal: Self.bob, registry: registry)
        let ops = RunRequester(principal: Self.ops, registry: registry)
        func context(_ id: String?) -> ExecutionContext { ExecutionContext(connectionID: id, topLevelNames: ["pkg"]) }

        try alice.authorize(context("alice-id"))
        try alice.authorize(context("nobody-holds-this"))
        try alice.authorize(context(nil))
        try alice.authorize(nil)
        try bob.authorize(context("nobody-holds-this"))
        try ops.authorize(context("alice-id"))
        #expect(throws: JSONRPCError.permissionDenied(
            "permission denied: token 'bob' may not run with connection id 'alice-id', which belongs to another token (needs the admin permission)"
        )) {
            try bob.authorize(context("alice-id"))
        }
        #expect(alice.mayFetch(from: "alice") && !bob.mayFetch(from: "alice") && ops.mayFetch(from: "alice"))
    }
}
