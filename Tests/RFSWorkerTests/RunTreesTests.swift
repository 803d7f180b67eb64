import Foundation
import Logging
import RFSStore
import RFSWire
import Synchronization
import Testing

@testable import RFSWorker

/// The runs' tree directories as the executor manages them, on a real node store in a scratch
/// directory; a host's end is a gate the test opens.
@Suite("Run trees")
struct RunTreesTests {
    final class Scratch {
        let base: String
        let trees: RunTrees

        init() throws {
            var template = Array((NSTemporaryDirectory() + "rfs-trees-XXXXXX").utf8CString)
            #expect(mkdtemp(&template) != nil)
            base = String(decoding: template.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            let store = try NodeStore(directory: base + "/cache", sizeLimit: 1 << 20, logger: Logger(label: "test.trees"))
            trees = RunTrees(maintenance: StoreMaintenance(store: store), offer: TreeOffer(maxReplyBytes: 4096), logger: Logger(label: "test.trees"))
        }

        deinit { try? FileManager.default.removeItem(atPath: base) }

        var runs: String { trees.maintenance.store.runsDirectory }
    }

    /// A host's exit the test decides.
    final class HostExit: Sendable {
        private let state = Mutex<(exited: Bool, waiters: [CheckedContinuation<Void, Never>])>((false, []))

        func wait() async {
            await withCheckedContinuation { continuation in
                let now = state.withLock { state -> Bool in
                    if state.exited { return true }
                    state.waiters.append(continuation)
                    return false
                }
                if now { continuation.resume() }
            }
        }

        func exit() {
            let waiters = state.withLock { state in
                state.exited = true
                defer { state.waiters.removeAll() }
                return state.waiters
            }
            for waiter in waiters { waiter.resume() }
        }
    }

    static let manifest = TreeManifest(
        snapshot: "c1-1",
        roots: [.init(path: "/home/u/src", kind: .source, files: [.init(path: "mod.py", size: 3, sha256: String(repeating: "a", count: 64))])])

    static func exists(_ path: String) -> Bool {
        var info = stat()
        return lstat(path, &info) == 0
    }

    @Test("a run's tree is a new directory under runs/, handed over with the store and the manifest")
    func makesTree() async throws {
        let scratch = try Scratch()
        let tree = try await scratch.trees.make(for: Self.manifest)
        #expect(tree.directory.hasPrefix(scratch.runs + "/\(getpid())."))
        #expect(Self.exists(tree.directory))
        #expect(tree.store == scratch.trees.maintenance.store.storeDirectory)
        #expect(tree.maxReplyBytes == 4096)
        #expect(tree.manifest == Self.manifest)
        let params = HostRunParams(run: RunParams(code: "", filename: "job.py", tree: Self.manifest), finishInterpreter: true, tree: tree)
        #expect(try HostRunParams(json: params.json).tree == tree)
    }

    @Test("a discarded host's tree stays until the host has exited, then goes")
    func runIsolation() async throws {
        let scratch = try Scratch()
        let exit = HostExit()
        let tree = try await scratch.trees.make(for: Self.manifest)
        scratch.trees.attach(tree.directory, toHost: 7) { await exit.wait() }
        let watcher = try #require(scratch.trees.watcher(ofHost: 7))
        scratch.trees.runEnded(onHost: 7, keep: .max)
        await scratch.trees.maintenance.idle()
        #expect(Self.exists(tree.directory))
        exit.exit()
        await watcher.value
        await scratch.trees.maintenance.idle()
        #expect(!Self.exists(tree.directory))
        #expect(scratch.trees.directories(ofHost: 7).isEmpty)
    }

    @Test("a host that lives across runs keeps its current and previous run's trees, and loses all when it ends")
    func keptHost() async throws {
        let scratch = try Scratch()
        let exit = HostExit()
        var made: [String] = []
        for _ in 0..<3 {
            let tree = try await scratch.trees.make(for: Self.manifest)
            made.append(tree.directory)
            scratch.trees.attach(tree.directory, toHost: 3) { await exit.wait() }
            scratch.trees.runEnded(onHost: 3, keep: RunTrees.keptPerHost)
        }
        await scratch.trees.maintenance.idle()
        #expect(!Self.exists(made[0]))
        #expect(Self.exists(made[1]))
        #expect(Self.exists(made[2]))
        #expect(scratch.trees.directories(ofHost: 3) == Array(made[1...]))
        let watcher = try #require(scratch.trees.watcher(ofHost: 3))
        exit.exit()
        await watcher.value
        await scratch.trees.maintenance.idle()
        for tree in made { #expect(!Self.exists(tree)) }
    }

    @Test("at shutdown every tree still recorded goes")
    func shutdown() async throws {
        let scratch = try Scratch()
        let first = try await scratch.trees.make(for: Self.manifest)
        let second = try await scratch.trees.make(for: Self.manifest)
        scratch.trees.attach(first.directory, toHost: 1) { await HostExit().wait() }
        scratch.trees.attach(second.directory, toHost: 2) { await HostExit().wait() }
        await scratch.trees.removeAll()
        #expect(!Self.exists(first.directory))
        #expect(!Self.exists(second.directory))
    }
}
