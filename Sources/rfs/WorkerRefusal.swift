import RFSProtocol

/// How a client command words a failure of its session with a worker. A refusal of the
/// worker's (-32001: the token lacks a permission, or a connection id belongs to another
/// token) reads `ws://host:8710/v1/session refused: permission denied: token 'alice' may not
/// run code (needs the run permission)`; the command then exits 2, like any other refusal by
/// the worker (401, unreachable).
enum WorkerRefusal {
    static func describe(_ error: any Error, worker: String) -> String {
        if let error = error as? JSONRPCError, error.code == JSONRPCError.permissionDenied {
            return "\(worker) refused: \(error.message)"
        }
        return "\(error)"
    }
}
