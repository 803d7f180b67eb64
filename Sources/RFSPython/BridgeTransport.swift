/// How `_rfs_bridge.request` reaches the client inside a run host: synchronously, on the Python
/// thread that asks, with the GIL released. The host writes the request to its fetch channel and
/// reads the reply itself, so an import costs no hand-off between threads in the host.
///
/// The in-process alternative (``PythonInterpreter/requestHandler``, used by tests and tools that
/// embed Python directly) runs an async handler and waits for it.
public protocol BridgeTransport: AnyObject, Sendable {
    /// Sends one request and returns a ticket to wait for its reply. Called without the GIL.
    func send(connectionID: String, method: String, paramsJSON: String, timeout: Double?) -> Result<UInt64, BridgeRequestError>

    /// Waits for the reply to `ticket`. Called without the GIL. Returns `.woken` when ``wake()``
    /// was called or a signal interrupted the wait: the caller then runs Python's signal
    /// handlers and either gives up (``abandon(_:)``) or waits again.
    func wait(for ticket: UInt64) -> BridgeTransportWait

    /// Forgets `ticket`: its reply, if it ever comes, is dropped.
    func abandon(_ ticket: UInt64)

    /// Ends every wait in progress with `.woken` (used when a run is interrupted).
    func wake()
}

/// How a ``BridgeTransport`` wait ended.
public enum BridgeTransportWait: Sendable, Equatable {
    /// The JSON text of the client's reply message, for Python to parse.
    case reply(String)
    case failure(BridgeRequestError)
    case woken
}
