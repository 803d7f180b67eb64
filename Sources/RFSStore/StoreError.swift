#if canImport(Glibc)
import Glibc
#endif

/// A failure of the node store: what could not be done, on which path, and the system's reason.
public struct StoreError: Error, Sendable, CustomStringConvertible, Equatable {
    /// What failed, as the end of "cannot …" (e.g. "create the store directory").
    public var operation: String
    public var path: String
    /// The `errno` of the failed call, when a call failed.
    public var code: Int32?
    /// Why, when it is not a system error (e.g. "is owned by uid 0").
    public var detail: String?

    public init(_ operation: String, path: String, code: Int32? = nil, detail: String? = nil) {
        self.operation = operation
        self.path = path
        self.code = code
        self.detail = detail
    }

    /// The failure of a system call that just set `errno`.
    static func system(_ operation: String, path: String) -> StoreError {
        StoreError(operation, path: path, code: errno)
    }

    public var description: String {
        var text = "cannot \(operation) \(path)"
        if let detail { text += ": \(detail)" }
        if let code { text += ": \(String(cString: strerror(code))) (errno \(code))" }
        return text
    }
}
