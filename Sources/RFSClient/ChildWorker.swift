import Foundation
import Logging
import RFSProtocol

/// A private worker process started by `rfs run` when no `--worker` is given.
///
/// The child is `rfs worker --handshake` (the same binary) with the handshake environment; it
/// prints one line with its URL and a fresh token. Its stdin is a pipe that only this process
/// holds: when we exit, or are killed, the pipe closes and the child shuts itself down.
public final class ChildWorker: Sendable {
    public let endpoint: WorkerEndpoint
    private let process: Process
    private let stdinPipe: Pipe

    private init(endpoint: WorkerEndpoint, process: Process, stdinPipe: Pipe) {
        self.endpoint = endpoint
        self.process = process
        self.stdinPipe = stdinPipe
    }

    /// Starts the child and waits for its handshake line (or its early death).
    public static func start(executable: String, extraArguments: [String] = [], logger: Logger) async throws -> ChildWorker {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = ["worker", "--handshake"] + extraArguments
        var environment = ProcessInfo.processInfo.environment
        environment[ChildHandshake.cookieVariable] = ChildHandshake.cookieValue
        environment[ChildHandshake.versionsVariable] = "\(ChildHandshake.protocolVersion)"
        process.environment = environment
        let stdinPipe = Pipe()
        let stdoutPipe = Pipe()
        process.standardInput = stdinPipe
        process.standardOutput = stdoutPipe
        process.standardError = FileHandle.standardError
        do {
            try process.run()
        } catch {
            throw ClientError.childWorkerFailed("cannot start \(executable): \(error.localizedDescription)")
        }
        let line = await readLine(from: stdoutPipe.fileHandleForReading)
        guard let line, let (url, token) = ChildHandshake.parse(line) else {
            process.waitUntilExit()
            let status = process.terminationStatus
            throw ClientError.childWorkerFailed(
                line.map { "unexpected handshake line: \($0)" }
                    ?? "it exited with status \(status) before the handshake (see its messages above)")
        }
        logger.debug("local worker started", metadata: ["url": "\(url)", "pid": "\(process.processIdentifier)"])
        return ChildWorker(endpoint: WorkerEndpoint(url: url, token: token), process: process, stdinPipe: stdinPipe)
    }

    /// Closes the child's stdin (its signal to stop) and waits for it to exit.
    public func stop() async {
        try? stdinPipe.fileHandleForWriting.close()
        let process = self.process
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            Thread.detachNewThread {
                process.waitUntilExit()
                continuation.resume()
            }
        }
    }

    /// Reads one line on a thread of its own: a blocking read must not sit on Swift's pool.
    private static func readLine(from handle: FileHandle) async -> String? {
        await withCheckedContinuation { (continuation: CheckedContinuation<String?, Never>) in
            Thread.detachNewThread {
                var bytes: [UInt8] = []
                var byte: UInt8 = 0
                while read(handle.fileDescriptor, &byte, 1) == 1 {
                    if byte == UInt8(ascii: "\n") {
                        continuation.resume(returning: String(decoding: bytes, as: UTF8.self))
                        return
                    }
                    bytes.append(byte)
                    if bytes.count > 4096 { break }
                }
                continuation.resume(returning: bytes.isEmpty ? nil : String(decoding: bytes, as: UTF8.self))
            }
        }
    }
}
