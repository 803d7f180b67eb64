/// A reference holding one immutable value.
///
/// Closures are kept in `Mutex`es only inside such a box: with Swift 6.3, reading a closure out
/// of `Mutex<Closure?>` with `withLock { $0 }` re-wraps the stored closure in a reabstraction
/// thunk on every read, so memory grows and calls recurse deeper each time (measured: ~96 bytes
/// per read, and a stack overflow after ~10^6 reads). Reading a class reference is plain ARC.
final class SendableBox<Value: Sendable>: Sendable {
    let value: Value

    init(_ value: Value) {
        self.value = value
    }
}
