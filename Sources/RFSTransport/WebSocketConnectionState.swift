import NIOConcurrencyHelpers

/// What the channel handler (on the event loop) and the session (in any task) both need to know
/// about one connection. A lock keeps it simple: every access is a few field reads or writes.
final class WebSocketConnectionState: Sendable {
    /// e.g. `127.0.0.1:54321`, for logs and errors.
    let remoteDescription: String
    private let box = NIOLockedValueBox(Inner())

    private struct Inner {
        var closeStatus: WebSocketCloseStatus?
        var isClosing = false
    }

    init(remoteDescription: String) {
        self.remoteDescription = remoteDescription
    }

    /// The first recorded reason wins: later events (the channel going inactive after a close
    /// handshake) must not overwrite why the session actually ended.
    func recordClose(_ status: WebSocketCloseStatus) {
        self.box.withLockedValue { inner in
            inner.isClosing = true
            if inner.closeStatus == nil {
                inner.closeStatus = status
            }
        }
    }

    /// Marks the session as closing before the event loop has processed the close request, so
    /// that `send` fails fast from the moment `close` is called.
    func markClosing() {
        self.box.withLockedValue { $0.isClosing = true }
    }

    var closeStatus: WebSocketCloseStatus? {
        self.box.withLockedValue { $0.closeStatus }
    }

    var isClosing: Bool {
        self.box.withLockedValue { $0.isClosing }
    }

    /// The error `send` and `messages` report once the session is closed.
    var closedError: WebSocketTransportError {
        .closed(remote: self.remoteDescription, status: self.closeStatus)
    }
}
