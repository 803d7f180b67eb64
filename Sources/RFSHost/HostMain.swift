import CRFSSystem
import Foundation
import Logging
import RFSProtocol
import RFSPython
import RFSWire
import Synchronization

/// A run host (DESIGN.md §6): one embedded interpreter in a child process of the worker daemon,
/// serving the daemon's `run` requests over its control channel.
///
/// **Threads.** Python's owner thread runs the scripts; a reader thread blocks on the control
/// channel and feeds the JSON-RPC peer; a writer thread owns the control channel's writes
/// (``ControlWriter``); Python's own threads use the fetch channel directly (``FetchChannel``).
/// Swift's cooperative pool only runs the peer's handlers, which never block.
///
/// **Life.** The host lives until the daemon closes the control channel or kills it (the daemon
/// always ends a host with SIGKILL to its process group, which also ends what the script started).
/// When the daemon dies, the control channel reaches end of file and the host exits at once.
public enum RunHostProcess {
    public struct Options: Sendable {
        public var maxMessageSize: Int
        public var pythonPath: [String]
        /// Where bytecode is kept (PYTHONPYCACHEPREFIX); nil: none is written.
        public var pycacheDirectory: String?

        public init(maxMessageSize: Int, pythonPath: [String], pycacheDirectory: String?) {
            self.maxMessageSize = maxMessageSize
            self.pythonPath = pythonPath
            self.pycacheDirectory = pycacheDirectory
        }
    }

    /// Serves until the daemon closes the control channel; returns the process's exit status.
    public static func serve(_ options: Options, logger: Logger) async -> Int32 {
        let environment = ProcessInfo.processInfo.environment
        if let refusal = HostProtocol.refusal(environment: environment) {
            FileHandle.standardError.write(Data("rfs: \(refusal)\n".utf8))
            return 1
        }
        // The daemon may have died before we got here. Later, its death closes the control
        // channel, and the reader thread's end of file ends this process. (Not PR_SET_PDEATHSIG:
        // it fires when the *thread* that started us exits, and the daemon's threads come and go.)
        if let parent = environment[HostProtocol.parentVariable].flatMap(Int32.init), getppid() != parent {
            return 1
        }
        let control = HostProtocol.controlDescriptor
        // Subprocesses of the script must not inherit the channels.
        _ = fcntl(control, F_SETFD, FD_CLOEXEC)
        _ = fcntl(HostProtocol.fetchDescriptor, F_SETFD, FD_CLOEXEC)

        let writer = ControlWriter(descriptor: control, maxMessageSize: options.maxMessageSize) {
            _exit(0)  // the daemon is gone; nothing here is worth finishing
        }
        let fetch = FetchChannel(
            descriptor: HostProtocol.fetchDescriptor, maxMessageSize: options.maxMessageSize,
            onWake: { writer.wake() })

        let interpreter: PythonInterpreter
        let executable: String?
        let clock = ContinuousClock()
        let started = clock.now
        var initialised = started
        do {
            interpreter = try await PythonInterpreter(
                configuration: .init(
                    extraSysPath: options.pythonPath, writeBytecode: options.pycacheDirectory != nil,
                    installSignalHandlers: true, pycachePrefix: options.pycacheDirectory, fetchTimeout: nil),
                logger: logger)
            interpreter.transport = fetch
            initialised = clock.now
            executable = try await interpreter.installHost()
        } catch {
            logger.error("run host could not start Python", metadata: ["error": "\(error)"])
            return 1
        }
        let pythonVersion = interpreter.pythonVersion.split(separator: " ").first.map(String.init) ?? "unknown"

        let peer = JSONRPCPeer(
            label: "host \(getpid())",
            configuration: .init(maxMessageSize: HostFrame.maxPayload(maxMessageSize: options.maxMessageSize)),
            logger: logger,
            send: { text in writer.send(text) })
        let runs = CurrentRun()
        await peer.register(HostProtocol.Method.run) { request in
            // The tree goes to Python as the JSON text it came in: the daemon validated it, and
            // Python parses it once, into the structures its finder uses.
            guard case .object(var object)? = request.params else { throw JSONRPCError.invalidParams("run: params must be an object") }
            let tree = object.removeValue(forKey: "tree").flatMap { $0 == .null ? nil : $0.serialized() }
            let params = try HostRunParams(json: .object(object))
            logger.debug("run starting", metadata: ["filename": "\(params.run.filename)"])
            let result = try await runs.execute(params, tree: tree, interpreter: interpreter, writer: writer)
            logger.debug("run finished", metadata: ["filename": "\(params.run.filename)"])
            // What the tree found in the node store, for the daemon's metrics (it drops the member).
            guard tree != nil, case .object(var answer) = result.json,
                let lookups = try? await interpreter.takeStoreLookups()
            else { return result.json }
            answer[HostStoreLookups.member] = lookups.json
            return .object(answer)
        }
        await peer.registerNotification(HostProtocol.Method.interrupt) { params in
            guard let interrupt = try? HostInterruptParams(json: params) else { return }
            interpreter.setInterruptMessage(interrupt.message)
            // Exactly one request per interrupt: to the run in progress, or (not started yet)
            // by cancelling its job, which then either leaves the queue or interrupts it.
            if !interpreter.interrupt() {
                runs.cancel()
            }
        }
        await peer.registerNotification(HostProtocol.Method.connectionClosed) { params in
            guard let closed = try? HostConnectionClosedParams(json: params) else { return }
            try? await interpreter.unregisterConnection(id: closed.connectionID)
        }
        let ready = HostReady(pid: getpid(), python: pythonVersion, pythonExecutable: executable)
        writer.send(JSONRPCEncoder.encode(JSONRPCNotification(method: HostProtocol.Method.ready, params: ready.json)))
        logger.debug(
            "run host ready",
            metadata: [
                "pid": "\(getpid())", "python": "\(pythonVersion)", "interpreter_start": "\(initialised - started)",
                "host_setup": "\(clock.now - initialised)",
            ])

        await peer.run(inbound: ControlReader.frames(descriptor: control, maxPayload: HostFrame.maxPayload(maxMessageSize: options.maxMessageSize)))
        // The daemon closed the channel: it is done with this host.
        _exit(0)
    }
}

/// The run in progress, so that `host/interrupt` can also stop one that has not started yet.
final class CurrentRun: Sendable {
    private let task = Mutex<Task<RunResult, any Error>?>(nil)

    func execute(_ params: HostRunParams, tree: String?, interpreter: PythonInterpreter, writer: ControlWriter) async throws -> RunResult {
        let run = params.run
        let task = Task {
            if let id = run.context?.connectionID {
                try await interpreter.registerConnection(id: id)
            }
            return try await interpreter.run(
                code: run.code, filename: run.filename, argv: run.argv, context: run.context, tree: tree,
                finishInterpreter: params.finishInterpreter,
                output: { kind, text in writer.writeOutput(kind, text) })
        }
        self.task.withLock { $0 = task }
        defer { self.task.withLock { $0 = nil } }
        defer {
            if params.finishInterpreter {
                // The host is done: closing our ends of the stdout and stderr pipes lets the
                // worker see that every byte the run wrote there has arrived, before it answers.
                Self.detachStandardOutputs()
            }
        }
        do {
            return try await task.value
        } catch is CancellationError {
            // Interrupted before the script started: report it as the script would have.
            return .exception(
                PythonException(type: "KeyboardInterrupt", message: "", traceback: "KeyboardInterrupt\n"))
        }
    }

    func cancel() {
        task.withLock { $0 }?.cancel()
    }

    /// Points fd 1 and 2 at /dev/null.
    static func detachStandardOutputs() {
        let null = open("/dev/null", O_WRONLY | O_CLOEXEC)
        guard null >= 0 else { return }
        _ = dup2(null, STDOUT_FILENO)
        _ = dup2(null, STDERR_FILENO)
        close(null)
    }
}

/// Frames of the control channel, read by a thread of its own (the read blocks).
enum ControlReader {
    static func frames(descriptor: Int32, maxPayload: Int) -> AsyncStream<String> {
        let (stream, continuation) = AsyncStream.makeStream(of: String.self)
        let thread = Thread {
            Thread.current.name = "rfs-host-reader"
            while true {
                switch FrameIO.readFrame(descriptor, maxPayload: maxPayload) {
                case .frame(let text):
                    continuation.yield(text)
                case .closed, .oversized:
                    continuation.finish()
                    return
                }
            }
        }
        thread.start()
        return stream
    }
}
