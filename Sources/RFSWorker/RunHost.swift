import CRFSSystem
import Foundation
import Logging
import NIOCore
import RFSProtocol
import RFSTransport
import RFSWire
import Synchronization

/// The daemon's handle on one run host process (DESIGN.md §6).
///
/// **Ownership.** The host's channels are served by one task (``serve``): the control loop
/// (`output` forwarded verbatim to the bound run's client, everything else to the JSON-RPC
/// peer), the fetch loop (each `host/fetch` routed by a ``FetchRouter`` in its own task), and a
/// pump for each of the host's stdout and stderr pipes. The binding (which run the host serves
/// now: where output goes, which connection it may fetch through) is a `Mutex`, read by those
/// loops. The process is reaped by a ``HostExitWatcher``.
///
/// **Backpressure.** The control loop awaits the client's WebSocket before it reads the next
/// frame, so a client that stops reading stops the loop, the socketpair fills, and the script
/// waits in `print` (bounded memory in every process).
final class RunHost: Sendable {
    struct Binding: Sendable {
        /// Sends one message (already encoded) to the run's client; waits while it is not reading.
        let send: @Sendable (String) async -> Void
        /// The only connection id the run may fetch through (its context's).
        let connectionID: String?
        /// Who asked for the run: fetches go only to that token's sessions (``RunRequester``).
        let requester: RunRequester
        /// Forward what the host writes to its file descriptors 1 and 2 (C extensions,
        /// subprocesses, forked children) as the run's output. Off for a shared host, whose
        /// leftover threads would otherwise write into another client's run.
        let forwardsProcessOutput: Bool
        /// Told what the run's tree found in the node store, when the host reports it.
        var storeLookups: (@Sendable (HostStoreLookups) -> Void)? = nil
    }

    /// How a run on this host ended.
    enum RunEnding: Sendable {
        case finished(RunResult)
        /// The host answered with an error instead of a result.
        case failed(JSONRPCError)
        /// The host died during the run.
        case died(HostExitStatus)
    }

    let number: UInt64
    let pid: Int32
    /// Fetches of this host answered at once (``serveFetches``).
    let maxFetchesInFlight: Int
    private let peer: JSONRPCPeer
    private let exit: HostExitWatcher
    private let binding = Mutex<Binding?>(nil)
    private let pipes = PipeDrain()
    private let logger: Logger
    private let readyState = Mutex<(ready: HostReady?, waiter: CheckedContinuation<HostReady, any Error>?)>((nil, nil))

    /// Where the peer's messages go: the control channel's writer, once ``serve`` has it.
    private let controlWriter: OutboundSlot

    init(number: UInt64, pid: Int32, exit: HostExitWatcher, maxPayload: Int, maxFetchesInFlight: Int, logger: Logger) {
        var logger = logger
        logger[metadataKey: "host"] = "\(number)"
        logger[metadataKey: "host_pid"] = "\(pid)"
        self.number = number
        self.pid = pid
        self.maxFetchesInFlight = maxFetchesInFlight
        self.exit = exit
        self.logger = logger
        let slot = OutboundSlot()
        self.controlWriter = slot
        self.peer = JSONRPCPeer(
            label: "host \(number)", configuration: .init(maxMessageSize: maxPayload), logger: logger,
            send: { text in try await slot.write(text) })
    }

    var isAlive: Bool { exit.status == nil }

    /// The host's `host/ready`, once it has arrived.
    var ready: HostReady? { readyState.withLock { $0.ready } }

    // MARK: - Serving the channels

    /// Runs the loops of the host's channels until they all close. Started once, by the launcher.
    func serve(
        control: NIOAsyncChannel<String, String>, fetch: NIOAsyncChannel<String, String>,
        stdout: NIOAsyncChannel<ByteBuffer, Never>, stderr: NIOAsyncChannel<ByteBuffer, Never>,
        router: FetchRouter
    ) async {
        await peer.registerNotification(HostProtocol.Method.ready) { [weak self] params in
            self?.readyArrived(params)
        }
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await self.serveControl(control) }
            group.addTask { await self.serveFetches(fetch, router: router) }
            group.addTask { await self.pump(stdout, kind: .stdout) }
            group.addTask { await self.pump(stderr, kind: .stderr) }
        }
    }

    private func serveControl(_ channel: NIOAsyncChannel<String, String>) async {
        let peer = self.peer
        try? await channel.executeThenClose { inbound, outbound in
            controlWriter.set(outbound)
            defer { controlWriter.set(nil) }
            do {
                for try await frame in inbound {
                    if frame.hasPrefix(OutputParams.messagePrefix) {
                        if let binding = binding.withLock({ $0 }) {
                            await binding.send(frame)
                        } else {
                            logger.debug("output between runs dropped")
                        }
                    } else {
                        await peer.receive(frame)
                    }
                }
            } catch {
                logger.debug("run host control channel failed", metadata: ["error": "\(error)"])
            }
        }
        await peer.close(reason: "run host \(number) (pid \(pid)) closed its control channel")
        readyFailed(RunHostError.exitedBeforeReady(pid: pid, status: exit.status))
    }

    /// Each `host/fetch` is answered by a task of its own (a host's threads may import at once);
    /// at most ``maxFetchesInFlight`` are answered at a time, the rest refused, so no host can
    /// make the daemon hold more than that many.
    private func serveFetches(_ channel: NIOAsyncChannel<String, String>, router: FetchRouter) async {
        try? await channel.executeThenClose { inbound, outbound in
            let inFlight = FetchesInFlight()
            do {
                for try await frame in inbound {
                    switch JSONRPCDecoder.decode(frame) {
                    case .single(.success(.request(let request))):
                        guard case .number(let id) = request.id, request.method == HostProtocol.Method.fetch,
                            let params = try? HostFetchParams(json: request.params)
                        else {
                            logger.warning("run host sent a malformed fetch", metadata: ["frame": "\(frame.prefix(200))"])
                            continue
                        }
                        let permission = binding.withLock { binding -> FetchRouter.Permission in
                            guard let binding else { return .noRun }
                            return .run(connectionID: binding.connectionID, requester: binding.requester)
                        }
                        let started = inFlight.start(id, limit: maxFetchesInFlight) {
                            let reply = await router.fetch(id: id, params: params, permission: permission)
                            try? await outbound.write(reply)
                        }
                        if !started {
                            try? await outbound.write(
                                HostFetchReply.failure(
                                    id: id, .failed, message: "more than \(maxFetchesInFlight) imports are waiting for the client"))
                        }
                    case .single(.success(.notification(let notice))) where notice.method == WireMethod.cancelRequest:
                        if case .int(let id)? = notice.params?["id"] {
                            inFlight.cancel(id)
                        }
                    default:
                        logger.warning("run host sent an unexpected fetch-channel message", metadata: ["frame": "\(frame.prefix(200))"])
                    }
                }
            } catch {
                logger.debug("run host fetch channel failed", metadata: ["error": "\(error)"])
            }
            inFlight.cancelAll()
        }
    }

    /// Forwards what the host writes to fd 1 or 2 as output of the bound run.
    private func pump(_ channel: NIOAsyncChannel<ByteBuffer, Never>, kind: OutputStreamKind) async {
        var decoder = UTF8Carry()
        try? await channel.executeThenClose { inbound, _ in
            do {
                for try await buffer in inbound {
                    let text = decoder.decode(buffer)
                    guard !text.isEmpty else { continue }
                    if let binding = binding.withLock({ $0 }), binding.forwardsProcessOutput {
                        await binding.send(OutputParams(stream: kind, text: text).message)
                    } else {
                        logger.info("run host wrote to \(kind.rawValue)", metadata: ["text": "\(text.prefix(500))"])
                    }
                }
            } catch {}
        }
        pipes.closed()
    }


    // MARK: - Ready

    private func readyArrived(_ params: JSONValue?) {
        let result: Result<HostReady, any Error>
        do {
            result = .success(try HostReady(json: params))
        } catch {
            result = .failure(RunHostError.badHandshake("\(error)"))
        }
        let waiter = readyState.withLock { state -> CheckedContinuation<HostReady, any Error>? in
            if case .success(let ready) = result { state.ready = ready }
            defer { state.waiter = nil }
            return state.waiter
        }
        waiter?.resume(with: result)
    }

    private func readyFailed(_ error: any Error) {
        let waiter = readyState.withLock { state -> CheckedContinuation<HostReady, any Error>? in
            defer { state.waiter = nil }
            return state.waiter
        }
        waiter?.resume(throwing: error)
    }

    /// Waits for `host/ready` (the launcher's side of the handshake).
    func waitUntilReady() async throws -> HostReady {
        try await withCheckedThrowingContinuation { continuation in
            let ready = readyState.withLock { state -> HostReady? in
                if let ready = state.ready { return ready }
                state.waiter = continuation
                return nil
            }
            if let ready { continuation.resume(returning: ready) }
        }
    }

    // MARK: - Runs

    /// Runs `params` bound to `binding` and waits until the host answers or dies. Not
    /// cancellable: the caller interrupts and kills (the run must end before the host is reused).
    func run(_ params: HostRunParams, binding newBinding: Binding) async -> RunEnding {
        binding.withLock { $0 = newBinding }
        defer { binding.withLock { $0 = nil } }
        let peer = self.peer
        let reply = await Task { () -> Result<JSONValue, any Error> in
            do {
                return .success(try await peer.request(HostProtocol.Method.run, params: params.json, timeout: nil))
            } catch {
                return .failure(error)
            }
        }.value
        switch reply {
        case .success(let value):
            if let lookups = HostStoreLookups(result: value) {
                newBinding.storeLookups?(lookups)
            }
            do {
                return .finished(try RunResult(json: value))
            } catch {
                return .failed(.internalError("run host \(number) answered with a malformed result: \(error)"))
            }
        case .failure(let error as JSONRPCError):
            return .failed(error)
        case .failure:
            // The control channel closed: the host died, or closed it and must be stopped.
            let status: HostExitStatus
            if let exited = await exit.wait(atMost: .milliseconds(500)) {
                status = exited
            } else {
                kill()
                status = await exit.wait()
            }
            await pipes.waitUntilClosed(atMost: .seconds(1))
            return .died(status)
        }
    }

    /// Asks the host to interrupt its run (KeyboardInterrupt, with `message`).
    func interrupt(_ reason: InterruptReason, message: String?) {
        let peer = self.peer
        Task {
            try? await peer.notify(HostProtocol.Method.interrupt, params: HostInterruptParams(reason: reason, message: message).json)
        }
    }

    /// Tells the host a client session with `connectionID` is gone.
    func connectionClosed(_ connectionID: String) {
        let peer = self.peer
        Task {
            try? await peer.notify(
                HostProtocol.Method.connectionClosed, params: HostConnectionClosedParams(connectionID: connectionID).json)
        }
    }

    /// SIGKILL to the host's process group (and to the host itself, should the script have
    /// moved it out of its group): whatever the script started ends with it.
    func kill() {
        _ = Glibc.kill(-pid, SIGKILL)
        _ = Glibc.kill(pid, SIGKILL)
    }

    /// After a run under `run` isolation: waits until everything written to the host's fd 1 and 2
    /// has been forwarded, so the run's reply comes after all of its output. The host closes
    /// its ends right after the run; when something it started still holds them, the host (with
    /// its process group) is killed first. Bounded: a grandchild that left the group may keep a
    /// pipe open.
    func drainProcessOutput() async {
        if await pipes.waitUntilClosed(atMost: .milliseconds(50)) { return }
        kill()
        _ = await pipes.waitUntilClosed(atMost: .seconds(1))
    }

    /// Kills the host and waits until it is gone and everything it wrote to fd 1 and 2 has been
    /// forwarded (bounded: a grandchild that left the process group may keep a pipe open).
    func discard() async {
        kill()
        _ = await exit.wait()
        await pipes.waitUntilClosed(atMost: .seconds(1))
        await peer.close(reason: "run host \(number) discarded")
    }

    /// The host's exit, for callers that watch it.
    func waitForExit() async -> HostExitStatus {
        await exit.wait()
    }

    /// Resident memory of the host process in bytes, or nil once it is gone.
    var residentBytes: Int64? {
        let value = rfs_process_rss(pid)
        return value >= 0 ? value : nil
    }
}

/// Failures of starting or talking to a run host.
enum RunHostError: Error, Sendable, CustomStringConvertible {
    case spawnFailed(executable: String, errno: Int32)
    case exitedBeforeReady(pid: Int32, status: HostExitStatus?)
    case badHandshake(String)
    case startTimedOut(pid: Int32, after: Duration)

    var description: String {
        switch self {
        case .spawnFailed(let executable, let code):
            "cannot start a run host (\(executable) host): \(String(cString: strerror(code)))"
        case .exitedBeforeReady(let pid, let status):
            "run host (pid \(pid)) \(status.map(\.description) ?? "closed its channel") before it was ready; see its messages above"
        case .badHandshake(let detail):
            "run host handshake failed: \(detail)"
        case .startTimedOut(let pid, let after):
            "run host (pid \(pid)) was not ready after \(after)"
        }
    }
}

/// The `host/fetch` requests of one host being answered, by id (for `$/cancelRequest`).
final class FetchesInFlight: Sendable {
    private let tasks = Mutex<[Int64: Task<Void, Never>]>([:])

    /// Starts answering request `id` unless `limit` requests are being answered already. The
    /// task is recorded before it can run, and removes itself when done.
    func start(_ id: Int64, limit: Int, _ answer: @escaping @Sendable () async -> Void) -> Bool {
        tasks.withLock { tasks in
            guard tasks.count < limit else { return false }
            tasks[id] = Task {
                await answer()
                self.remove(id)
            }
            return true
        }
    }

    private func remove(_ id: Int64) {
        _ = tasks.withLock { $0.removeValue(forKey: id) }
    }

    func cancel(_ id: Int64) {
        tasks.withLock { $0[id] }?.cancel()
    }

    func cancelAll() {
        for task in tasks.withLock({ Array($0.values) }) { task.cancel() }
    }
}

/// The control channel's outbound writer, available while ``RunHost/serve`` runs.
final class OutboundSlot: Sendable {
    private let writer = Mutex<NIOAsyncChannelOutboundWriter<String>?>(nil)

    func set(_ newValue: NIOAsyncChannelOutboundWriter<String>?) {
        writer.withLock { $0 = newValue }
    }

    func write(_ text: String) async throws {
        guard let writer = writer.withLock({ $0 }) else {
            throw JSONRPCPeerError.closed(reason: "the run host's control channel is closed")
        }
        try await writer.write(text)
    }
}

/// Waits for a host's stdout and stderr pumps to end (both pipes at end of file).
final class PipeDrain: Sendable {
    private struct State {
        var open = 2
        var nextWaiter: UInt64 = 0
        var waiters: [UInt64: CheckedContinuation<Void, Never>] = [:]
    }

    private let state = Mutex(State())

    func closed() {
        let waiters = state.withLock { state -> [CheckedContinuation<Void, Never>] in
            state.open -= 1
            guard state.open == 0 else { return [] }
            defer { state.waiters.removeAll() }
            return Array(state.waiters.values)
        }
        for waiter in waiters { waiter.resume() }
    }

    /// True when both pipes closed within `limit`.
    @discardableResult
    func waitUntilClosed(atMost limit: Duration) async -> Bool {
        if state.withLock({ $0.open <= 0 }) { return true }
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await self.waitUnlessCancelled() }
            group.addTask { try? await Task.sleep(for: limit) }
            await group.next()
            group.cancelAll()
        }
        return state.withLock { $0.open <= 0 }
    }

    /// Returns when both pipes are closed or the task is cancelled.
    private func waitUnlessCancelled() async {
        let id = state.withLock { state -> UInt64 in
            defer { state.nextWaiter += 1 }
            return state.nextWaiter
        }
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let resumeNow = state.withLock { state -> Bool in
                    if state.open <= 0 || Task.isCancelled { return true }
                    state.waiters[id] = continuation
                    return false
                }
                if resumeNow { continuation.resume() }
            }
        } onCancel: {
            let waiter = state.withLock { $0.waiters.removeValue(forKey: id) }
            waiter?.resume()
        }
    }
}

/// Decodes a byte stream as UTF-8 across chunk boundaries (a character split between two reads
/// is kept until its end arrives; invalid bytes become U+FFFD).
struct UTF8Carry {
    private var carry: [UInt8] = []

    mutating func decode(_ buffer: ByteBuffer) -> String {
        var bytes = carry
        bytes.append(contentsOf: buffer.readableBytesView)
        // Keep an incomplete sequence at the end for the next chunk.
        var cut = bytes.count
        var back = 0
        while back < 3, cut - back - 1 >= 0 {
            let byte = bytes[cut - back - 1]
            if byte & 0xC0 == 0x80 {
                back += 1
                continue
            }
            if byte >= 0xC0 {
                let needed = byte >= 0xF0 ? 4 : byte >= 0xE0 ? 3 : 2
                if back + 1 < needed { cut = cut - back - 1 }
            }
            break
        }
        carry = Array(bytes[cut...])
        return String(decoding: bytes[..<cut], as: UTF8.self)
    }
}
