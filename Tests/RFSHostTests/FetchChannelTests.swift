import CRFSSystem
import Foundation
import RFSProtocol
import RFSPython
import RFSWire
import Synchronization
import Testing

@testable import RFSHost

/// The host's end of the fetch channel, against a fake daemon on the other end of a real
/// socketpair: replies find the thread that asked, whatever their order; an abandoned request's
/// late reply is dropped; a wake-up or the daemon's death ends a wait.
@Suite("Fetch channel", .timeLimit(.minutes(1)))
struct FetchChannelTests {
    /// The daemon's side of the socketpair, read and written with the host's own frame code.
    final class FakeDaemon: Sendable {
        let descriptor: Int32

        init(descriptor: Int32) {
            self.descriptor = descriptor
        }

        /// The next request's id and module name (blocks).
        func nextRequest() throws -> (id: Int64, text: String) {
            guard case .frame(let text) = FrameIO.readFrame(descriptor, maxPayload: 1 << 20) else {
                throw TestFailure("the channel closed")
            }
            guard case .single(.success(let message)) = JSONRPCDecoder.decode(text) else {
                throw TestFailure("not a message: \(text)")
            }
            switch message {
            case .request(let request):
                guard case .number(let id) = request.id else { throw TestFailure("not a number id") }
                return (id, text)
            case .notification(let notice):
                guard case .int(let id)? = notice.params?["id"] else { throw TestFailure("no id") }
                return (-id, text)
            case .response:
                throw TestFailure("unexpected response")
            }
        }

        func reply(_ id: Int64, clientReply: String) {
            let frame = FrameIO.frame(HostFetchReply.success(id: id, clientReply: clientReply))
            _ = frame.withUnsafeBytes { FrameIO.writeAll(descriptor, $0) }
        }

        func close() {
            Glibc.close(descriptor)
        }
    }

    static func pair() throws -> (FetchChannel, FakeDaemon) {
        var fds: [Int32] = [-1, -1]
        guard fds.withUnsafeMutableBufferPointer({ rfs_socketpair($0.baseAddress!) }) == 0 else {
            throw TestFailure("socketpair failed")
        }
        return (FetchChannel(descriptor: fds[0], maxMessageSize: 1 << 20, onWake: {}), FakeDaemon(descriptor: fds[1]))
    }

    /// Runs a blocking body on a thread of its own (never on Swift's pool).
    static func onThread<T: Sendable>(_ body: @escaping @Sendable () -> T) async -> T {
        await withCheckedContinuation { continuation in
            Thread.detachNewThread { continuation.resume(returning: body()) }
        }
    }

    static func reply(_ name: String) -> String {
        #"{"jsonrpc":"2.0","id":1,"result":{"name":"\#(name)"}}"#
    }

    @Test("a request's reply comes back as the client's text")
    func roundTrip() async throws {
        let (channel, daemon) = try Self.pair()
        let ticket = try channel.send(connectionID: "c", method: "fetch_module", paramsJSON: #"{"module_name":"a"}"#, timeout: nil).get()
        let (id, text) = try daemon.nextRequest()
        #expect(text.contains(#""connection_id":"c""#))
        daemon.reply(id, clientReply: Self.reply("a"))
        let outcome = await Self.onThread { channel.wait(for: ticket) }
        #expect(outcome == .reply(Self.reply("a")))
        daemon.close()
    }

    @Test("replies in reverse order reach the threads that asked")
    func concurrentRequests() async throws {
        let (channel, daemon) = try Self.pair()
        let first = try channel.send(connectionID: "c", method: "fetch_module", paramsJSON: "{}", timeout: nil).get()
        let second = try channel.send(connectionID: "c", method: "fetch_module", paramsJSON: "{}", timeout: nil).get()
        let firstID = try daemon.nextRequest().id
        let secondID = try daemon.nextRequest().id
        async let firstOutcome = Self.onThread { channel.wait(for: first) }
        async let secondOutcome = Self.onThread { channel.wait(for: second) }
        daemon.reply(secondID, clientReply: Self.reply("second"))
        daemon.reply(firstID, clientReply: Self.reply("first"))
        #expect(await firstOutcome == .reply(Self.reply("first")))
        #expect(await secondOutcome == .reply(Self.reply("second")))
        daemon.close()
    }

    @Test("an abandoned request is cancelled at the daemon and its late reply dropped")
    func abandon() async throws {
        let (channel, daemon) = try Self.pair()
        let abandoned = try channel.send(connectionID: "c", method: "fetch_module", paramsJSON: "{}", timeout: nil).get()
        let abandonedID = try daemon.nextRequest().id
        channel.abandon(abandoned)
        let notice = try daemon.nextRequest()
        #expect(notice.id == -abandonedID)
        #expect(notice.text.contains("$/cancelRequest"))
        let next = try channel.send(connectionID: "c", method: "fetch_module", paramsJSON: "{}", timeout: nil).get()
        let nextID = try daemon.nextRequest().id
        daemon.reply(abandonedID, clientReply: Self.reply("late"))
        daemon.reply(nextID, clientReply: Self.reply("next"))
        #expect(await Self.onThread { channel.wait(for: next) } == .reply(Self.reply("next")))
        daemon.close()
    }

    @Test("wake() ends a wait with .woken, and the request can still be waited for")
    func wake() async throws {
        let (channel, daemon) = try Self.pair()
        let ticket = try channel.send(connectionID: "c", method: "fetch_module", paramsJSON: "{}", timeout: nil).get()
        let id = try daemon.nextRequest().id
        async let woken = Self.onThread { channel.wait(for: ticket) }
        channel.wake()
        #expect(await woken == .woken)
        daemon.reply(id, clientReply: Self.reply("after"))
        #expect(await Self.onThread { channel.wait(for: ticket) } == .reply(Self.reply("after")))
        daemon.close()
    }

    @Test("the daemon's death fails the wait at once")
    func daemonGone() async throws {
        let (channel, daemon) = try Self.pair()
        let ticket = try channel.send(connectionID: "c", method: "fetch_module", paramsJSON: "{}", timeout: nil).get()
        _ = try daemon.nextRequest()
        async let outcome = Self.onThread { channel.wait(for: ticket) }
        daemon.close()
        guard case .failure(.connectionLost) = await outcome else {
            Issue.record("expected connectionLost")
            return
        }
    }
}

struct TestFailure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
