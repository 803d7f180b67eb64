import Foundation
import Logging

@testable import RFSStore

/// A scratch cache directory for one test (with an `outside` sibling for files a removal must
/// never reach), removed when the value goes away.
final class ScratchCache {
    /// Real path of the scratch base; the cache is `base/cache`.
    let base: String
    var cache: String { base + "/cache" }
    var outside: String { base + "/outside" }

    init() throws {
        var template = Array((NSTemporaryDirectory() + "rfs-store-XXXXXX").utf8CString)
        guard mkdtemp(&template) != nil else { throw StoreError("make a scratch directory", path: NSTemporaryDirectory(), code: errno) }
        let made = String(decoding: template.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        base = URL(fileURLWithPath: made).resolvingSymlinksInPath().path
        try FileManager.default.createDirectory(atPath: outside, withIntermediateDirectories: true)
    }

    deinit {
        if let paths = FileManager.default.enumerator(atPath: base) {
            for case let path as String in paths { chmod(base + "/" + path, 0o755) }
        }
        try? FileManager.default.removeItem(atPath: base)
    }

    func store(sizeLimit: Int64 = 1 << 30) throws -> NodeStore {
        try NodeStore(directory: cache, sizeLimit: sizeLimit, logger: Logger(label: "test.store"))
    }

    func write(_ path: String, bytes: Int = 10, mode: mode_t = 0o644) throws {
        try FileManager.default.createDirectory(
            atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        guard FileManager.default.createFile(atPath: path, contents: Data(repeating: 0x61, count: bytes)) else {
            throw StoreError("write", path: path, code: errno)
        }
        chmod(path, mode)
    }

    static func exists(_ path: String) -> Bool {
        var info = stat()
        return lstat(path, &info) == 0
    }

    static func status(_ path: String) -> stat? {
        var info = stat()
        return lstat(path, &info) == 0 ? info : nil
    }
}

/// A pid no process has: a child that has exited and been reaped.
func deadPID() throws -> Int32 {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/bin/true")
    try process.run()
    process.waitUntilExit()
    return process.processIdentifier
}
