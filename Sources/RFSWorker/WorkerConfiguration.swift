import Logging
import RFSProtocol
import RFSTransport
import RFSWire

/// A host and port to listen on; port 0 picks a free one.
public struct ListenAddress: Sendable, Equatable, CustomStringConvertible {
    public var host: String
    public var port: Int

    public init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    public var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }
}

/// Everything `rfs worker` decides before it listens. Each limit and deadline lives here once.
public struct WorkerConfiguration: Sendable {
    /// Address to listen on; port 0 picks a free port (the child-worker handshake uses that).
    public var host: String
    public var port: Int
    /// The bearer tokens clients must present and what each may do (a single token, a tokens
    /// file's table); `.none` only on loopback with an explicit opt-in.
    public var authentication: Authentication
    public var tls: TLSFiles?
    public var maxMessageSize: Int
    /// How long an import waits for its client before it fails with ImportError: the one
    /// deadline of a fetch (DESIGN.md §6).
    public var fetchTimeout: Duration
    /// On shutdown, how long runs may go on before they are interrupted.
    public var shutdownGrace: Duration
    /// How long an interrupted run may take to end before its host is killed.
    public var cancelGrace: Duration
    /// A run still going after this long is interrupted (then killed after ``cancelGrace``).
    public var runTimeout: Duration?
    /// A run whose host holds more resident memory than this is killed.
    public var runMemory: Int64?
    /// How runs are isolated from each other (DESIGN.md §6).
    public var isolation: IsolationMode
    /// Runs executing at once; more wait in arrival order.
    public var maxRuns: Int
    /// Run hosts kept started ahead of need.
    public var warmHosts: Int
    /// Start a replacement whenever a warm host is taken (off for `rfs run`'s private worker).
    public var refillWarmHosts: Bool
    /// The `rfs` executable that run hosts are started from (`rfs host`).
    public var hostExecutable: String
    /// Extra `sys.path` entries of every run host.
    public var pythonPath: [String]
    /// `sys.version`'s first word of the linked interpreter, for `initialize`.
    public var pythonVersion: String
    /// The log level run hosts log at (to the daemon's stderr).
    public var hostLogLevel: Logger.Level
    /// Imports of one run host answered at a time; more are refused (a host runs arbitrary code
    /// and must not be able to make the daemon hold unbounded work).
    public var maxFetchesPerHost = 64
    /// Most items in one batch from a client (`JSONRPCPeer.Configuration.maxBatchSize`); a larger
    /// batch gets one `-32002` error and none of it runs.
    public var maxBatchSize = JSONRPCPeer.Configuration.defaultMaxBatchSize
    /// Most requests of one session handled at once, replies not yet sent included
    /// (`JSONRPCPeer.Configuration.maxRequestsInFlight`); more are answered `-32002` at once.
    /// With ``maxMessageSize`` it bounds what a session's requests can make the worker hold:
    /// at most `maxRequestsInFlight × maxMessageSize` of replies.
    public var maxRequestsInFlight = JSONRPCPeer.Configuration.defaultMaxRequestsInFlight
    /// Most bytes of one session's outbound messages (replies, run output, fetches) copied for
    /// its connection and not yet taken by it (`WebSocketServerConfiguration.maxQueuedOutboundBytes`):
    /// a client that reads slowly or not at all pauses its runs' output (the run host waits in
    /// `print`) instead of growing the worker's memory.
    public var maxQueuedOutputBytes = WebSocketSession.defaultMaxQueuedOutboundBytes
    /// The worker node's cache (`--cache-dir`): run hosts keep compiled bytecode of the worker's
    /// own modules (the standard library, `--python-path`) in its `pycache` folder, the clients'
    /// files and their compiled code in its `store`, and runs' materialized trees in `runs`
    /// (DESIGN.md §7). nil: none of these, and clients' imports go through `fetch_module`.
    public var cacheDirectory: String?
    /// The most the store may hold (`--cache-size`); least recently used entries go first.
    public var cacheSize: Int64 = WorkerConfiguration.defaultCacheSize

    /// Keepalive (`--ping-interval`, `--pong-timeout`): each session is pinged this often, and a
    /// client that answers nothing for the pong timeout (frozen, its link gone) is dropped, its
    /// run interrupted. Defaults 30 s and 20 s, as the transport's.
    public var pingInterval: Duration? = .seconds(30)
    public var pongTimeout: Duration = .seconds(20)

    public static let defaultCacheSize: Int64 = 2 << 30
    /// A second listener that serves only `GET /metrics`, without a token (`--metrics-listen`):
    /// for a scraper on the same machine. Refused at start unless its host is loopback (the
    /// main listener's `/metrics` needs the token). nil: none.
    public var metricsListen: ListenAddress?

    public init(
        host: String = "127.0.0.1", port: Int = 8710, authentication: Authentication = .none, tls: TLSFiles? = nil,
        maxMessageSize: Int = 64 << 20, fetchTimeout: Duration = .seconds(30),
        shutdownGrace: Duration = .seconds(5), cancelGrace: Duration = .seconds(3),
        runTimeout: Duration? = nil, runMemory: Int64? = nil,
        isolation: IsolationMode = .run, maxRuns: Int = WorkerConfiguration.defaultMaxRuns, warmHosts: Int = 2,
        refillWarmHosts: Bool = true, hostExecutable: String, pythonPath: [String] = [], pythonVersion: String = "unknown",
        hostLogLevel: Logger.Level = .warning, cacheDirectory: String? = nil
    ) {
        self.host = host
        self.port = port
        self.authentication = authentication
        self.tls = tls
        self.maxMessageSize = maxMessageSize
        self.fetchTimeout = fetchTimeout
        self.shutdownGrace = shutdownGrace
        self.cancelGrace = cancelGrace
        self.runTimeout = runTimeout
        self.runMemory = runMemory
        self.isolation = isolation
        self.maxRuns = maxRuns
        self.warmHosts = warmHosts
        self.refillWarmHosts = refillWarmHosts
        self.hostExecutable = hostExecutable
        self.pythonPath = pythonPath
        self.pythonVersion = pythonVersion
        self.hostLogLevel = hostLogLevel
        self.cacheDirectory = cacheDirectory
    }

    /// `$XDG_CACHE_HOME/rfs`, else `~/.cache/rfs`, else a folder of this user's in /tmp.
    public static var defaultCacheDirectory: String {
        let environment = ProcessInfo.processInfo.environment
        if let xdg = environment["XDG_CACHE_HOME"], xdg.hasPrefix("/") { return xdg + "/rfs" }
        if let home = environment["HOME"], home.hasPrefix("/") { return home + "/.cache/rfs" }
        return "/tmp/rfs-cache-\(getuid())"
    }

    /// The number of CPUs.
    public static var defaultMaxRuns: Int {
        max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))))
    }

    /// What the worker offers in `initialize`: prefetching up to half the message size (so a
    /// reply always fits), and how it isolates runs.
    var capabilities: WorkerCapabilities {
        WorkerCapabilities(
            prefetch: PrefetchOffer(maxModules: 4096, maxBytes: min(32 << 20, maxMessageSize / 2)),
            isolation: isolation, maxRuns: maxRuns, tree: treeOffer)
    }

    /// The `tree` capability: offered when there is a cache to keep the clients' files in.
    var treeOffer: TreeOffer? {
        cacheDirectory == nil ? nil : TreeOffer(maxMessageSize: maxMessageSize)
    }
}

#if canImport(Glibc)
import Glibc
#endif
import Foundation
