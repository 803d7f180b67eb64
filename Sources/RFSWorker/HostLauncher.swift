import CRFSSystem
import Foundation
import Logging
import NIOCore
import RFSTransport
import RFSWire
import Synchronization

/// Starts run hosts: `rfs host` (this same executable) with the handshake environment, two
/// socketpairs (control, fetch), pipes for its stdout and stderr, the daemon's stderr for its
/// logs, in a process group of its own (DESIGN.md §6).
struct HostLauncher: Sendable {
    /// This executable (`/proc/self/exe`).
    let executable: String
    let maxMessageSize: Int
    let pythonPath: [String]
    /// Where hosts keep bytecode (nil: they write none).
    let pycacheDirectory: String?
    let logLevel: Logger.Level
    let router: FetchRouter
    /// How long a host may take from start to `host/ready`.
    let startTimeout: Duration
    /// Imports of one host answered at a time (more are refused).
    let maxFetchesInFlight: Int
    let logger: Logger
    private let numbers = HostNumbers()

    init(
        executable: String, maxMessageSize: Int, pythonPath: [String], pycacheDirectory: String?, logLevel: Logger.Level,
        router: FetchRouter, maxFetchesInFlight: Int, startTimeout: Duration = .seconds(60), logger: Logger
    ) {
        self.executable = executable
        self.maxMessageSize = maxMessageSize
        self.pythonPath = pythonPath
        self.pycacheDirectory = pycacheDirectory
        self.logLevel = logLevel
        self.router = router
        self.startTimeout = startTimeout
        self.maxFetchesInFlight = maxFetchesInFlight
        self.logger = logger
    }

    /// The host's file descriptors: 1, 2 pipes to us; 3 control; 4 fetch; 5 our stderr (logs).
    static let logDescriptor: Int32 = 5

    /// Starts a host and waits until it is ready (its interpreter initialised, the worker
    /// package imported).
    func launch() async throws -> RunHost {
        let number = numbers.next()
        var control: [Int32] = [-1, -1]
        var fetch: [Int32] = [-1, -1]
        var out: [Int32] = [-1, -1]
        var err: [Int32] = [-1, -1]
        var opened: [Int32] = []
        func fail(_ code: Int32) -> RunHostError {
            for descriptor in opened { close(descriptor) }
            return .spawnFailed(executable: executable, errno: code)
        }
        for (index, make) in [(0, rfs_socketpair), (1, rfs_socketpair), (2, rfs_pipe), (3, rfs_pipe)].map({ ($0.0, $0.1) }) {
            var pair: [Int32] = [-1, -1]
            let status = pair.withUnsafeMutableBufferPointer { make($0.baseAddress!) }
            guard status == 0 else { throw fail(status) }
            opened += pair
            switch index {
            case 0: control = pair
            case 1: fetch = pair
            case 2: out = pair
            default: err = pair
            }
        }
        var arguments = [executable, "host", "--max-message-size", "\(maxMessageSize)", "--log-level", "\(logLevel)"]
        for entry in pythonPath { arguments += ["--python-path", entry] }
        if let pycacheDirectory { arguments += ["--pycache-dir", pycacheDirectory] }
        var environment = ProcessInfo.processInfo.environment
        for (key, value) in HostProtocol.environment(parentPID: getpid()) { environment[key] = value }
        // A script that crashes the host (a segfault in a C extension) should read like a
        // crash of `python job.py`, not bring the Swift runtime's backtrace into its stderr.
        environment["SWIFT_BACKTRACE"] = "enable=no"
        // Our stderr goes to the host as its fd 5, through a copy above the child's slots: mapped
        // as fd 2 directly, it would be replaced by the host's stderr pipe before it is copied.
        let logCopy = fcntl(STDERR_FILENO, F_DUPFD_CLOEXEC, 10)
        defer { if logCopy >= 0 { close(logCopy) } }
        var mappings = [
            rfs_fd_mapping(parent_fd: out[1], child_fd: 1),
            rfs_fd_mapping(parent_fd: err[1], child_fd: 2),
            rfs_fd_mapping(parent_fd: control[1], child_fd: HostProtocol.controlDescriptor),
            rfs_fd_mapping(parent_fd: fetch[1], child_fd: HostProtocol.fetchDescriptor),
        ]
        if logCopy >= 0 {
            mappings.append(rfs_fd_mapping(parent_fd: logCopy, child_fd: Self.logDescriptor))
        }
        var pid: pid_t = 0
        let status = withCStrings(arguments) { argv in
            withCStrings(environment.map { "\($0.key)=\($0.value)" }) { envp in
                mappings.withUnsafeBufferPointer { maps in
                    rfs_spawn(executable, argv, envp, maps.baseAddress, Int32(maps.count), &pid)
                }
            }
        }
        // The child has its ends now (or never will): ours to close either way.
        for descriptor in [control[1], fetch[1], out[1], err[1]] { close(descriptor) }
        opened = [control[0], fetch[0], out[0], err[0]]
        guard status == 0 else { throw fail(status) }

        let watcher = HostExitWatcher(pid: pid)
        let maxPayload = HostFrame.maxPayload(maxMessageSize: maxMessageSize)
        let host = RunHost(
            number: number, pid: pid, exit: watcher, maxPayload: maxPayload, maxFetchesInFlight: maxFetchesInFlight,
            logger: logger)
        let channels: (NIOAsyncChannel<String, String>, NIOAsyncChannel<String, String>, NIOAsyncChannel<ByteBuffer, Never>, NIOAsyncChannel<ByteBuffer, Never>)
        do {
            channels = (
                try await HostChannels.framed(socket: control[0], maxPayload: maxPayload),
                try await HostChannels.framed(socket: fetch[0], maxPayload: maxPayload),
                try await HostChannels.pipeReader(descriptor: out[0]),
                try await HostChannels.pipeReader(descriptor: err[0])
            )
        } catch {
            host.kill()
            throw RunHostError.badHandshake("cannot open the run host's channels: \(error)")
        }
        let router = self.router
        Task { await host.serve(control: channels.0, fetch: channels.1, stdout: channels.2, stderr: channels.3, router: router) }
        // Every host's end is logged: operators (and tests) see each host come and go.
        let logger = self.logger
        Task {
            let status = await host.waitForExit()
            logger.info("run host exited", metadata: ["host": "\(number)", "pid": "\(pid)", "status": "\(status)"])
        }

        let timeout = startTimeout
        do {
            let ready = try await withThrowingTaskGroup(of: HostReady?.self) { group in
                group.addTask { try await host.waitUntilReady() }
                group.addTask {
                    try await Task.sleep(for: timeout)
                    return nil
                }
                defer { group.cancelAll() }
                guard let first = try await group.next(), let ready = first else {
                    throw RunHostError.startTimedOut(pid: pid, after: timeout)
                }
                return ready
            }
            guard ready.protocolVersion == HostProtocol.version else {
                throw RunHostError.badHandshake("run host speaks protocol \(ready.protocolVersion), the daemon \(HostProtocol.version)")
            }
            logger.info("run host ready", metadata: ["host": "\(number)", "pid": "\(pid)", "python": "\(ready.python)"])
        } catch {
            await host.discard()
            throw error
        }
        return host
    }
}

/// Numbers hosts for logs.
private final class HostNumbers: Sendable {
    private let counter = Atomic<UInt64>(0)

    func next() -> UInt64 {
        counter.wrappingAdd(1, ordering: .relaxed).newValue
    }
}

/// Calls `body` with a NULL-terminated C array of C strings for `strings`.
private func withCStrings<R>(_ strings: [String], _ body: (UnsafePointer<UnsafeMutablePointer<CChar>?>) -> R) -> R {
    var pointers: [UnsafeMutablePointer<CChar>?] = strings.map { strdup($0) }
    pointers.append(nil)
    defer { for pointer in pointers { free(pointer) } }
    return pointers.withUnsafeBufferPointer { body($0.baseAddress!) }
}
