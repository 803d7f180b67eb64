import CRFSSystem
import Foundation

/// What /proc says about the worker's processes: memory, children, liveness.
enum Processes {
    /// Resident set size in bytes (VmRSS), or nil once the process is gone.
    static func residentBytes(_ pid: Int32) -> Int? {
        statusBytes(pid, field: "VmRSS")
    }

    /// The most resident memory `pid` ever had (VmHWM, the kernel's high-water mark), in bytes.
    static func peakResidentBytes(_ pid: Int32) -> Int? {
        statusBytes(pid, field: "VmHWM")
    }

    private static func statusBytes(_ pid: Int32, field: String) -> Int? {
        guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return nil }
        for line in status.split(separator: "\n") where line.hasPrefix(field + ":") {
            let kilobytes = line.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first.flatMap { Int($0) }
            return kilobytes.map { $0 * 1024 }
        }
        return nil
    }

    /// Processes whose parent is `pid`.
    static func children(of pid: Int32) -> [Int32] {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return entries.compactMap(Int32.init).filter { child in
            guard let stat = try? String(contentsOfFile: "/proc/\(child)/stat", encoding: .utf8),
                let close = stat.lastIndex(of: ")")
            else { return false }
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            return fields.count > 1 && Int32(fields[1]) == pid
        }
    }

    /// The resident bytes of `pid` and all its children.
    static func residentBytesWithChildren(_ pid: Int32) -> Int {
        ([pid] + children(of: pid)).compactMap(residentBytes).reduce(0, +)
    }

    /// True while `pid` exists and is not a zombie.
    static func isAlive(_ pid: Int32) -> Bool {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
            let close = stat.lastIndex(of: ")")
        else { return false }
        return stat[stat.index(after: close)...].split(separator: " ").first != "Z"
    }

    /// Waits until `pid` has exited (a pidfd becomes readable), on a thread of its own; false
    /// if it is still running after `limit` — for processes the worker must kill.
    static func waitUntilGone(_ pid: Int32, atMost limit: Duration) async -> Bool {
        let milliseconds = Int32(limit.components.seconds * 1000 + limit.components.attoseconds / 1_000_000_000_000_000)
        return await withCheckedContinuation { continuation in
            Thread.detachNewThread {
                continuation.resume(returning: rfs_wait_process_exit(pid, milliseconds) == 1)
            }
        }
    }
}

/// A script in a temporary folder, for tests that need code of their own.
struct Script {
    let directory: URL
    let path: String

    init(_ code: String, name: String = "job.py") throws {
        directory = try Paths.temporaryDirectory()
        path = directory.appendingPathComponent(name).path
        try code.write(toFile: path, atomically: true, encoding: .utf8)
    }

    func remove() {
        try? FileManager.default.removeItem(at: directory)
    }
}
