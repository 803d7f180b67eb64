#if Deephaven
import Foundation
import RFSClient
import Synchronization
import RFSDeephaven
import RFSProtocol
import RFSTestSupport
import Testing

/// The client's conversation with Deephaven's services, against in-process fakes.
@Suite(.timeLimit(.minutes(1)))
struct DeephavenClientTests {
    @Test("serve logs in with the PSK, then always sends the newest bearer token the server rotated to")
    func tokenRotation() async throws {
        let fake = FakeDeephaven(fetches: ["pkg"])
        let tree = try TemporaryTree(["pkg/__init__.py": "X = 1\n"])
        let sources = try SourceSet(directories: [tree.root])
        let stop = StopSignal()
        try await withFakeDeephaven(fake) { client in
            async let serving: Void = client.serve(sources: sources, names: ["pkg"], until: stop) { _, _ in }
            for await _ in fake.fetchesAnswered { break }
            stop.stop()
            try await serving
        }
        let seen = fake.snapshot.authorizations
        #expect(seen.first == "io.deephaven.authentication.psk.PskAuthenticationHandler the-psk")
        // Every later call carries a bearer token; the fake accepts only the newest, so a client
        // that kept an old one would have failed above.
        #expect(seen.dropFirst().allSatisfy { $0.hasPrefix("Bearer token-") })
        #expect(seen.count >= 5, "login, console types, start console, commands, stream: \(seen)")
    }

    @Test("a refused key is reported as such, naming the server")
    func wrongKey() async throws {
        let fake = FakeDeephaven()
        let error = await #expect(throws: DeephavenError.self) {
            try await withFakeDeephaven(fake, psk: "not-it") { client in try await client.info() }
        }
        #expect(error?.description == "the Deephaven server at http://fake.invalid:10000 refused the pre-shared key (check DEEPHAVEN_PSK or --psk-file)")
    }

    @Test("a server without a Python console is named as such, with the console types it has")
    func noPythonConsole() async throws {
        let fake = FakeDeephaven(consoleTypes: ["groovy"])
        let error = await #expect(throws: DeephavenError.self) {
            try await withFakeDeephaven(fake) { client in
                try await client.serve(sources: SourceSet(indexes: []), names: [], until: StopSignal()) { _, _ in }
            }
        }
        #expect(error?.description == "the Deephaven server at http://fake.invalid:10000 has no Python console enabled (console types: groovy)")
    }

    @Test("a server whose Python cannot import the plugin is named as such; the Java frames are not shown")
    func pluginMissing() async throws {
        let fake = FakeDeephaven(pluginInstalled: false)
        let error = await #expect(throws: DeephavenError.self) {
            try await withFakeDeephaven(fake) { client in
                try await client.serve(sources: SourceSet(indexes: []), names: [], until: StopSignal()) { _, _ in }
            }
        }
        let text = try #require(error?.description)
        #expect(text.hasPrefix("the Deephaven server at http://fake.invalid:10000 does not have the remote-file-source plugin installed"))
        #expect(text.hasSuffix(": ModuleNotFoundError: No module named 'deephaven.python_remote_file_source'"))
        #expect(!text.contains("org.jpy"))
    }

    @Test("the message stream: our own plugin ticket and type, set_connection_id whose id is the connection id, fetch_module answered from the folders")
    func messageStreamConversation() async throws {
        let fake = FakeDeephaven(fetches: ["pkg", "pkg.mod", "nothing_here", "pkg.bad"])
        let tree = try TemporaryTree(["pkg/__init__.py": "X = 1\n", "pkg/mod.py": "Y = 2\n"])
        try tree.write("pkg/bad.py", bytes: Array("x = 1\n".utf8) + [0xFF, 0x0A])
        let sources = try SourceSet(directories: [tree.root])
        let stop = StopSignal()
        let attachments = Locked<[DeephavenClient<InProcessConnector>.Attachment]>([])
        try await withFakeDeephaven(fake) { client in
            async let serving: Void = client.serve(sources: sources, names: ["pkg"], until: stop) { attachment, reconnected in
                #expect(!reconnected)
                attachments.value.withLock { $0.append(attachment) }
            }
            for await _ in fake.fetchesAnswered { break }
            stop.stop()
            try await serving
        }
        let recorded = fake.snapshot
        let attachment = try #require(attachments.value.withLock { $0.first })
        #expect(attachment.variable.hasPrefix("__rfs_plugin_"))
        #expect(attachment.variable != "__deephaven_vscode")
        #expect(recorded.connect?.type == "DeephavenPythonRemoteFileSourcePlugin")
        #expect(recorded.connect.map { String(decoding: $0.ticket.ticket, as: UTF8.self) } == "s/\(attachment.variable)")
        #expect(recorded.connectionID == attachment.connectionID)

        // The console: create our plugin object, set the context, and (on stop) remove it.
        #expect(recorded.commands.count == 3)
        #expect(recorded.commands[0].contains("\(attachment.variable) = _rfs_PluginObject()"))
        #expect(recorded.commands[1] == "\(attachment.variable).set_execution_context(\"\(attachment.connectionID)\", set([\"pkg\"]))")
        #expect(recorded.commands[2].contains("plugin.set_execution_context(None, set())"))

        #expect(recorded.replies.count == 4)
        let byID = Dictionary(uniqueKeysWithValues: recorded.replies.compactMap { reply in reply["id"].map { ($0, reply) } })
        #expect(byID["fetch-0"]?["result"]?["name"] == "pkg")
        #expect(byID["fetch-0"]?["result"]?["is_package"] == true)
        #expect(byID["fetch-0"]?["result"]?["source"] == "X = 1\n")
        #expect(byID["fetch-1"]?["result"]?["origin"] == .string(tree.root + "/pkg/mod.py"))
        #expect(byID["fetch-2"]?["result"] == .null, "not found: a null result, as the reference client answers")
        // The reference plugin ignores a reply's `error`: an unservable file becomes a module
        // whose source raises the ImportError that names it.
        let bad = try #require(byID["fetch-3"]?["result"]?["source"]?.stringValue)
        #expect(bad.hasPrefix("raise ImportError(\"cannot decode \(tree.root)/pkg/bad.py: line 2 is not valid utf-8"))
        #expect(byID["fetch-3"]?["result"]?["origin"] == .string(tree.root + "/pkg/bad.py"))
    }
}

/// A value tasks share, behind its own lock.
final class Locked<Value: Sendable>: Sendable {
    let value: Mutex<Value>
    init(_ initial: Value) { value = Mutex(initial) }
}

extension JSONValue {
    var stringValue: String? {
        if case .string(let text) = self { return text }
        return nil
    }
}
#endif  // Deephaven
