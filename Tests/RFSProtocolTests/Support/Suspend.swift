/// Suspends until the calling task is cancelled, then throws `CancellationError`: a handler that
/// never answers on its own, without standing in a time for "never".
func suspendUntilCancelled() async throws {
    let (never, finish) = AsyncStream.makeStream(of: Void.self)
    await withTaskCancellationHandler {
        for await _ in never {}
    } onCancel: {
        finish.finish()
    }
    throw CancellationError()
}
