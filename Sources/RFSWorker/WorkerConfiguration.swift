import RFSPython
import RFSTransport

/// Everything `rfs worker` decides before it listens.
public struct WorkerConfiguration: Sendable {
    /// Address to listen on; port 0 picks a free port (the child-worker handshake uses that).
    public var host: String
    public var port: Int
    /// Bearer token clients must present; `nil` only on loopback with an explicit opt-in.
    public var token: String?
    public var tls: TLSFiles?
    public var maxMessageSize: Int
    /// How long an import waits for its client before it fails with ImportError.
    public var fetchTimeout: Duration
    /// On shutdown, how long the current run may go on before it is interrupted.
    public var shutdownGrace: Duration
    public var python: PythonInterpreter.Configuration

    public init(
        host: String = "127.0.0.1", port: Int = 8710, token: String? = nil, tls: TLSFiles? = nil,
        maxMessageSize: Int = 64 << 20, fetchTimeout: Duration = .seconds(30),
        shutdownGrace: Duration = .seconds(5), python: PythonInterpreter.Configuration = .init()
    ) {
        self.host = host
        self.port = port
        self.token = token
        self.tls = tls
        self.maxMessageSize = maxMessageSize
        self.fetchTimeout = fetchTimeout
        self.shutdownGrace = shutdownGrace
        self.python = python
    }
}
