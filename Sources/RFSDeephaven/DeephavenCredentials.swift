#if Deephaven
import GRPCCore
import Synchronization

/// The credential every call to one Deephaven server carries, owned by one session and shared
/// with its interceptor: first the pre-shared key, then the newest bearer token the server sent.
///
/// Deephaven answers a PSK login with `authorization: Bearer <token>` and rotates the token on
/// later replies; a call with a stale token is refused once the session ends, so the newest value
/// always wins. Guarded by a `Mutex`: calls run on many tasks at once and the lock is held only
/// to read or swap a string.
public final class DeephavenCredentials: Sendable {
    public static let pskScheme = "io.deephaven.authentication.psk.PskAuthenticationHandler"

    private let state: Mutex<String>

    public init(psk: String) {
        state = Mutex("\(Self.pskScheme) \(psk)")
    }

    /// The value of the `authorization` header for the next call.
    public var authorization: String { state.withLock { $0 } }

    /// Whether the server has issued a bearer token yet (the login call succeeded).
    public var hasBearer: Bool { state.withLock { $0.hasPrefix("Bearer ") } }

    /// Adopts `authorization` values from a reply's metadata; only bearer tokens are taken.
    func adopt(from metadata: Metadata) {
        for value in metadata[stringValues: "authorization"] where value.hasPrefix("Bearer ") {
            state.withLock { $0 = value }
        }
    }
}

/// Adds the session's credential to every call and adopts the token each reply carries.
struct DeephavenAuthInterceptor: ClientInterceptor {
    let credentials: DeephavenCredentials

    func intercept<Input: Sendable, Output: Sendable>(
        request: StreamingClientRequest<Input>,
        context: ClientContext,
        next: (StreamingClientRequest<Input>, ClientContext) async throws -> StreamingClientResponse<Output>
    ) async throws -> StreamingClientResponse<Output> {
        var request = request
        request.metadata.replaceOrAddString(credentials.authorization, forKey: "authorization")
        let response = try await next(request, context)
        if case .success(let contents) = response.accepted {
            credentials.adopt(from: contents.metadata)
        }
        return response
    }
}
#endif  // Deephaven
