import Foundation
import NIOHTTP1
@testable import RFSTransport
import Testing

/// Issue 10 "Tokens and permissions": the token rule, the tokens file, the token table and the
/// principal a server gives each accepted session.
@Suite struct TokenTests {
    static let alice = "alice-token-0123456789"
    static let bob = "bob-token-abcdefghij"

    @Test("permissions parse from a comma list, and admin allows everything")
    func permissionLists() throws {
        #expect(try Permissions.parse("run,serve").get() == [.run, .serve])
        #expect(try Permissions.parse("info").get() == .info)
        #expect(try Permissions.parse("run,run").get() == .run)
        #expect(Permissions.parse("run,exec") == .failure(.init(item: "exec")))
        #expect(Permissions.parse("run,,serve") == .failure(.init(item: "")))
        #expect(Permissions.parse("Run") == .failure(.init(item: "Run")))
        #expect(Permissions.parse("") == .failure(.init(item: "")))

        let admin = Principal(name: "ops", permissions: .admin)
        #expect(admin.may(.run) && admin.may(.serve) && admin.may(.info) && admin.may([.run, .serve]))
        let viewer = Principal(name: "viewer", permissions: .info)
        #expect(viewer.may(.info))
        #expect(!viewer.may(.run) && !viewer.may(.serve) && !viewer.may(.admin))
        #expect(!Principal(name: "u", permissions: [.run]).may([.run, .serve]))
        #expect(Principal.default.may(.admin) && Principal.anonymous.may(.admin))
        #expect("\(Permissions([.serve, .run]))" == "run,serve")
        #expect("\(Permissions())" == "none")
    }

    @Test("a token needs 16 characters and no whitespace or control characters")
    func tokenRule() {
        #expect(TokenRules.problem(with: " ") == "it is made of whitespace")
        #expect(TokenRules.problem(with: "\t\n ") == "it is made of whitespace")
        #expect(TokenRules.problem(with: "") == "it is empty")
        #expect(TokenRules.problem(with: "short")?.contains("has 5 characters; at least 16") == true)
        #expect(TokenRules.problem(with: "0123456789abcde")?.contains("15 characters") == true)
        #expect(TokenRules.problem(with: "0123456789abcdef") == nil)
        #expect(TokenRules.problem(with: "0123456789 abcdefgh")?.contains("whitespace") == true)
        #expect(TokenRules.problem(with: "0123456789\u{00A0}abcdefgh")?.contains("whitespace") == true)
        #expect(TokenRules.problem(with: "0123456789\u{7F}abcdefgh")?.contains("control character") == true)
        #expect(TokenRules.problem(with: "0123456789\u{0}abcdefgh")?.contains("control character") == true)
    }

    @Test("a table finds each token's principal and nothing for a wrong, partial or missing token")
    func tableLookup() throws {
        let table = try TokenTable([
            (Principal(name: "alice", permissions: [.run, .serve]), Self.alice),
            (Principal(name: "bob", permissions: .info), Self.bob),
        ])
        #expect(table.principal(presenting: Array(Self.alice.utf8))?.name == "alice")
        #expect(table.principal(presenting: Array(Self.bob.utf8)) == Principal(name: "bob", permissions: .info))
        #expect(table.principal(presenting: Array(Self.alice.dropLast().utf8)) == nil)
        #expect(table.principal(presenting: Array((Self.alice + "x").utf8)) == nil)
        #expect(table.principal(presenting: Array(Self.alice.uppercased().utf8)) == nil)
        #expect(table.principal(presenting: []) == nil)

        let authentication = Authentication.tokens(table)
        #expect(authentication.principal(for: HTTPHeaders([("Authorization", "Bearer \(Self.bob)")]))?.name == "bob")
        #expect(authentication.principal(for: HTTPHeaders()) == nil)
        #expect(authentication.principal(for: HTTPHeaders([("Authorization", "Basic \(Self.bob)")])) == nil)
        #expect(Authentication.token(Self.alice).principal(for: HTTPHeaders([("Authorization", "Bearer \(Self.alice)")])) == .default)
        #expect(Authentication.none.principal(for: HTTPHeaders()) == .anonymous)
    }

    @Test("a table refuses weak, duplicated tokens and duplicated names")
    func tableRefusals() {
        let alice = Principal(name: "alice", permissions: .run)
        let bob = Principal(name: "bob", permissions: .run)
        #expect(throws: TokenTableError.empty) { try TokenTable([]) }
        #expect {
            try TokenTable([(alice, Self.alice), (bob, "short")])
        } throws: { ($0 as? TokenTableError) == .weakToken(entry: 2, name: "bob", problem: "it has 5 characters; at least 16 are needed") }
        #expect(throws: TokenTableError.duplicateToken(entry: 2, earlierEntry: 1, name: "bob")) {
            try TokenTable([(alice, Self.alice), (bob, Self.alice)])
        }
        #expect(throws: TokenTableError.duplicateName(entry: 2, earlierEntry: 1, name: "alice")) {
            try TokenTable([(alice, Self.alice), (alice, Self.bob)])
        }
    }

    @Test("a tokens file parses names, permissions and tokens, skipping comments and blank lines")
    func tokensFileParses() throws {
        let text = """
            # who     may            token
            alice     run,serve      \(Self.alice)

               # indented comment
            bob\tinfo\t\(Self.bob)\r
            ops admin 0123456789abcdef#not-a-comment
            """
        let table = try TokensFile.parse(text, path: "/etc/rfs/tokens")
        #expect(table.principals == [
            Principal(name: "alice", permissions: [.run, .serve]),
            Principal(name: "bob", permissions: .info),
            Principal(name: "ops", permissions: .admin),
        ])
        #expect(table.principal(presenting: Array("0123456789abcdef#not-a-comment".utf8))?.name == "ops")
        #expect(table.principal(presenting: Array(Self.bob.utf8))?.name == "bob", "the CR of a CRLF line is not part of the token")
    }

    @Test(
        "a bad tokens file is refused naming the file and the line, never quoting a token",
        arguments: [
            ("alice run,serve\n", 1, "expected NAME PERMISSIONS TOKEN separated by spaces, found 2 fields"),
            ("# c\nalice run,serve \(TokenTests.alice) extra\n", 2, "found 4 fields"),
            ("alice run,exec \(TokenTests.alice)\n", 1, "unknown permission 'exec' for 'alice' (expected a comma list of run, serve, info, admin)"),
            ("\n\nalice run, \(TokenTests.alice)\n", 3, "empty item in the permission list 'run,'"),
            ("alice run,,serve \(TokenTests.alice)\n", 1, "empty item in the permission list"),
            ("al ice run \(TokenTests.alice)\n", 1, "found 4 fields"),
            ("al/ice run \(TokenTests.alice)\n", 1, "the name 'al/ice' may only use letters, digits and . _ @ -"),
            ("alice run \(TokenTests.alice)\nbob run short-token\n", 2, "the token of 'bob' is refused: it has 11 characters; at least 16 are needed"),
            ("alice run \(TokenTests.alice)\n\nbob info \(TokenTests.alice)\n", 3, "the token of 'bob' is the same as the one on line 1"),
            ("alice run \(TokenTests.alice)\nalice info \(TokenTests.bob)\n", 2, "the name 'alice' is already used on line 1"),
        ])
    func tokensFileRefusals(text: String, line: Int, problem: String) {
        #expect {
            try TokensFile.parse(text, path: "/etc/rfs/tokens")
        } throws: { error in
            let message = "\(error)"
            return message.hasPrefix("tokens file /etc/rfs/tokens, line \(line): ") && message.contains(problem)
                && !message.contains(Self.alice) && !message.contains("short-token") && !message.contains(Self.bob)
        }
    }

    @Test("a tokens file without tokens is refused")
    func emptyTokensFile() {
        #expect(throws: TokensFileError.noTokens(path: "f")) { try TokensFile.parse("# nobody\n\n", path: "f") }
    }

    @Test("a tokens file others may read is refused, like ssh's keys; one of ours alone loads")
    func tokensFileMode() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("rfs-tokens-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let path = folder.appendingPathComponent("tokens").path
        try "alice run,serve \(Self.alice)\n".write(toFile: path, atomically: true, encoding: .utf8)

        #expect(chmod(path, 0o644) == 0)
        #expect {
            try TokensFile.load(path: path)
        } throws: { error in
            "\(error)" == "tokens file \(path) is accessible by other users (mode 644); it holds secrets: run chmod 600 \(path)"
        }
        #expect(chmod(path, 0o620) == 0)
        #expect(throws: TokensFileError.tooOpen(path: path, mode: 0o620)) { try TokensFile.load(path: path) }

        #expect(chmod(path, 0o600) == 0)
        #expect(try TokensFile.load(path: path).principals == [Principal(name: "alice", permissions: [.run, .serve])])

        #expect {
            try TokensFile.load(path: folder.appendingPathComponent("missing").path)
        } throws: { "\($0)".contains("cannot read tokens file") && "\($0)".contains("No such file") }
        #expect(chmod(folder.path, 0o700) == 0)
        #expect(throws: TokensFileError.unreadable(path: folder.path, reason: "not a regular file")) {
            try TokensFile.load(path: folder.path)
        }
    }

    @Test("a server refuses a weak single token at bind")
    func weakSingleTokenRefusedAtBind() async {
        for weak in [" ", "short", "has a space in it!"] {
            await #expect {
                try await withServer(testServerConfiguration(token: weak)) { _ in }
            } throws: { error in
                guard case .invalidConfiguration(let reason) = error as? WebSocketTransportError else { return false }
                return reason.hasPrefix("the bearer token is refused: ")
            }
        }
    }

    @Test("each accepted session carries the principal of the token it presented")
    func sessionsCarryTheirPrincipal() async throws {
        let table = try TokenTable([
            (Principal(name: "alice", permissions: [.run, .serve]), Self.alice),
            (Principal(name: "bob", permissions: .info), Self.bob),
        ])
        var configuration = testServerConfiguration()
        configuration.authentication = .tokens(table)
        let principals = Mailbox<Principal?>()
        try await withServer(configuration, onSession: { session in principals.post(session.principal) }) { server in
            for (token, expected) in [(Self.alice, "alice"), (Self.bob, "bob")] {
                let session = try await connect(to: server, token: token)
                let seen = await principals.next()
                #expect(seen??.name == expected)
                #expect(session.principal == nil, "a client-side session has no principal")
                await session.close()
            }
            for wrong in [nil, "carol-token-0123456789", String(Self.alice.dropLast())] {
                await #expect {
                    _ = try await connect(to: server, token: wrong)
                } throws: { error in
                    guard case .unauthorized = error as? WebSocketTransportError else { return false }
                    return true
                }
            }
        }
    }
}
