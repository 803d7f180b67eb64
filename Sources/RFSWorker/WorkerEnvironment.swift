import RFSProtocol
import RFSWire

/// What every session of one worker shares. Immutable; the parts with state are actors or locks.
struct WorkerEnvironment: Sendable {
    let executor: RunExecutor
    let registry: SessionRegistry
    let sessions: LiveSessions
    let info: WorkerInfo
    let configuration: WorkerConfiguration
    let metrics: WorkerMetrics
}

/// How the worker describes itself in `initialize`.
public struct WorkerInfo: Sendable {
    public var name: String
    public var version: String
    public var pythonVersion: String

    public init(name: String = "rfs-worker", version: String = RFSVersion.current, pythonVersion: String) {
        self.name = name
        self.version = version
        self.pythonVersion = pythonVersion
    }
}
