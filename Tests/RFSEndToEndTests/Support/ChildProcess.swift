import Foundation
import Synchronization

/// A child process with its stdout readable line by line while it runs, and its stderr
/// collected. Blocking reads happen on threads of their own, never on Swift's pool.
final class ChildProcess: Sendable {
    struct Result: Sendable {
        var status: Int32
        var stdout: String
        var stderr: String
    }

    private let process: Process
    private let stdinWriter: FileHandle
    private let stdoutLines: AsyncStream<String>
    private let stderrLines: AsyncStream<String>
    private let collected = Collected()
    private let finished: Task<Int32, Never>

    init(_ arguments: [String], executable: String = Paths.rfs, environment: [String: String] = [:]) throws {
        let process = Process()
        self.process = process
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        // Tests start many children at once: with plain Pipe()s, one child inherits another's
        // pipe ends and that pipe never reaches end-of-file. Close-on-exec pipes avoid that;
        // the child's own stdio is dup2'ed, which clears the flag on fds 0-2 only.
        let (stdinPipe, stdoutPipe, stderrPipe) = try spawnLock.withLock { _ in
            let pipes = (try CloexecPipe(), try CloexecPipe(), try CloexecPipe())
            process.standardInput = pipes.0.reader
            process.standardOutput = pipes.1.writer
            process.standardError = pipes.2.writer
            try process.run()
            return pipes
        }
        stdinWriter = stdinPipe.writer
        let (lines, continuation) = AsyncStream.makeStream(of: String.self)
        stdoutLines = lines
        let (errorLines, errorContinuation) = AsyncStream.makeStream(of: String.self)
        stderrLines = errorLines
        try stdinPipe.reader.close()
        try stdoutPipe.writer.close()
        try stderrPipe.writer.close()

        let collected = self.collected
        let stdoutDone = Self.pump(stdoutPipe.reader) { chunk in
            collected.state.withLock { $0.stdout += chunk }
        } line: { continuation.yield($0) } end: { continuation.finish() }
        let stderrDone = Self.pump(stderrPipe.reader) { chunk in
            collected.state.withLock { $0.stderr += chunk }
        } line: { errorContinuation.yield($0) } end: { errorContinuation.finish() }
        finished = Task {
            await stdoutDone.value
            await stderrDone.value
            return await withCheckedContinuation { continuation in
                Thread.detachNewThread {
                    process.waitUntilExit()
                    continuation.resume(returning: process.terminationStatus)
                }
            }
        }
    }

    var pid: Int32 { process.processIdentifier }

    /// The next line the child writes to stdout; `nil` once stdout is closed.
    func nextLine() async -> String? {
        var iterator = stdoutLines.makeAsyncIterator()
        return await iterator.next()
    }

    /// Reads stdout lines until one contains `marker`; returns it (or `nil` at end of output).
    func waitForLine(containing marker: String) async -> String? {
        for await line in stdoutLines where line.contains(marker) {
            return line
        }
        return nil
    }

    /// Reads stderr lines until one contains `marker`; returns it (or `nil` at end of output).
    func waitForStderrLine(containing marker: String) async -> String? {
        for await line in stderrLines where line.contains(marker) {
            return line
        }
        return nil
    }

    func closeStdin() {
        try? stdinWriter.close()
    }

    func signal(_ signal: Int32) {
        kill(process.processIdentifier, signal)
    }

    /// Waits for exit and returns the status and everything written.
    func result() async -> Result {
        let status = await finished.value
        let output = collected.state.withLock { $0 }
        return Result(status: status, stdout: output.stdout, stderr: output.stderr)
    }

    private static func pump(
        _ handle: FileHandle, chunk: @escaping @Sendable (String) -> Void,
        line: @escaping @Sendable (String) -> Void, end: @escaping @Sendable () -> Void
    ) -> Task<Void, Never> {
        Task {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                Thread.detachNewThread {
                    // Lines are cut from the unscanned tail only: megabyte-long lines must not
                    // be rescanned for every chunk.
                    var pending: [UInt8] = []
                    while true {
                        let data = handle.availableData
                        if data.isEmpty { break }
                        chunk(String(decoding: data, as: UTF8.self))
                        var scanFrom = pending.count
                        pending.append(contentsOf: data)
                        var lineStart = 0
                        while let newline = pending[scanFrom...].firstIndex(of: UInt8(ascii: "\n")) {
                            line(String(decoding: pending[lineStart..<newline], as: UTF8.self))
                            lineStart = newline + 1
                            scanFrom = lineStart
                        }
                        if lineStart > 0 { pending.removeFirst(lineStart) }
                    }
                    if !pending.isEmpty { line(String(decoding: pending, as: UTF8.self)) }
                    end()
                    continuation.resume()
                }
            }
        }
    }
}

/// Pipes are made close-on-exec and children spawned under this lock, so no child can
/// inherit a pipe end that is being set up for another.
let spawnLock = Mutex(())

/// A pipe whose both ends are close-on-exec.
private struct CloexecPipe {
    let reader: FileHandle
    let writer: FileHandle

    init() throws {
        var fds: [Int32] = [0, 0]
        guard pipe(&fds) == 0 else { throw TestFailure("pipe failed: errno \(errno)") }
        // Set before any spawn can happen: spawns take `spawnLock`, and so do we (in init).
        _ = fcntl(fds[0], F_SETFD, FD_CLOEXEC)
        _ = fcntl(fds[1], F_SETFD, FD_CLOEXEC)
        reader = FileHandle(fileDescriptor: fds[0], closeOnDealloc: true)
        writer = FileHandle(fileDescriptor: fds[1], closeOnDealloc: true)
    }
}

/// Everything the child wrote, appended by the reader threads.
private final class Collected: Sendable {
    let state = Mutex((stdout: "", stderr: ""))
}

/// Runs `rfs` with `arguments` to completion.
func rfs(_ arguments: [String], environment: [String: String] = [:]) async throws -> ChildProcess.Result {
    let child = try ChildProcess(arguments, environment: environment)
    child.closeStdin()
    return await child.result()
}
