import RFSPython
import RFSWire
import Synchronization

/// A value that changes over time, and waits until it satisfies a predicate (the suites' time
/// limits end a wait that never comes true).
final class Watch<Value: Sendable>: Sendable {
    private struct Waiter {
        let predicate: @Sendable (Value) -> Bool
        let continuation: CheckedContinuation<Bool, Never>
    }

    private struct State {
        var value: Value
        var waiters: [UInt64: Waiter] = [:]
        var nextID: UInt64 = 0
    }

    private let state: Mutex<State>

    init(_ value: Value) {
        state = Mutex(State(value: value))
    }

    var value: Value { state.withLock { $0.value } }

    func update(_ change: (inout Value) -> Void) {
        state.withLock { state in
            change(&state.value)
            for (id, waiter) in state.waiters where waiter.predicate(state.value) {
                state.waiters.removeValue(forKey: id)
                waiter.continuation.resume(returning: true)
            }
        }
    }

    /// True once the predicate holds; false if the waiting task is cancelled first.
    func wait(until predicate: @escaping @Sendable (Value) -> Bool) async -> Bool {
        await waitIndefinitely(until: predicate)
    }

    private func waitIndefinitely(until predicate: @escaping @Sendable (Value) -> Bool) async -> Bool {
        let id = state.withLock { state -> UInt64 in
            state.nextID += 1
            return state.nextID
        }
        return await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                state.withLock { state in
                    if predicate(state.value) {
                        continuation.resume(returning: true)
                    } else if Task.isCancelled {
                        continuation.resume(returning: false)
                    } else {
                        state.waiters[id] = Waiter(predicate: predicate, continuation: continuation)
                    }
                }
            }
        } onCancel: {
            state.withLock { state in
                state.waiters.removeValue(forKey: id)?.continuation.resume(returning: false)
            }
        }
    }
}

/// Collects a run's output chunks in the order they arrive.
final class OutputRecorder: Sendable {
    struct Chunk: Sendable, Equatable {
        var stream: OutputStreamKind
        var text: String
    }

    let chunks = Watch<[Chunk]>([])

    var callback: @Sendable (OutputStreamKind, String) -> Void {
        { stream, text in self.chunks.update { $0.append(Chunk(stream: stream, text: text)) } }
    }

    var stdout: String { text(of: .stdout) }
    var stderr: String { text(of: .stderr) }

    func text(of stream: OutputStreamKind) -> String {
        chunks.value.filter { $0.stream == stream }.map(\.text).joined()
    }

    /// Waits until `stream` has received `text` (somewhere in its output).
    func waitFor(_ text: String, on stream: OutputStreamKind = .stdout) async -> Bool {
        await chunks.wait { chunks in
            chunks.filter { $0.stream == stream }.map(\.text).joined().contains(text)
        }
    }
}
