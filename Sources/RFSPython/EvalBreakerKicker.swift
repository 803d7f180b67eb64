import CRFSPythonShim
import Foundation

/// Makes Python's main thread look at its pending calls soon after `interrupt()`.
///
/// In CPython 3.11, `Py_AddPendingCall` from a thread other than the main thread queues the call
/// but does not set the main thread's "eval breaker" (it computes "can this thread handle
/// pending calls?" for the *calling* thread), so a script in `while True: pass` would never run
/// it. A thread that asks for the GIL does set the eval breaker: the main thread then handles
/// its pending calls before handing the GIL over. This helper thread does exactly that, with
/// `PyGILState_Ensure` / `PyGILState_Release`, whenever it is kicked; it may block waiting for
/// the GIL, which is why `interrupt()` does not do this itself.
final class EvalBreakerKicker: @unchecked Sendable {
    private let condition = NSCondition()
    // Guarded by `condition`:
    private var kicks = 0
    private var stopping = false
    private var running = false

    /// Starts the helper thread; Python must be initialised.
    func start() {
        condition.lock()
        running = true
        condition.unlock()
        let thread = Thread { [self] in
            Thread.current.name = "rfs-python-kick"
            loop()
        }
        thread.start()
    }

    /// Asks for one GIL round trip; never blocks for long.
    func kick() {
        condition.lock()
        kicks += 1
        condition.broadcast()
        condition.unlock()
    }

    /// Ends the helper thread and waits for it; must be called before Python is finalised, by a
    /// thread that does not hold the GIL.
    func stop() {
        condition.lock()
        stopping = true
        condition.broadcast()
        while running {
            condition.wait()
        }
        condition.unlock()
    }

    private func loop() {
        condition.lock()
        while true {
            while kicks == 0 && !stopping {
                condition.wait()
            }
            if stopping {
                break
            }
            kicks = 0
            condition.unlock()
            let state = PyGILState_Ensure()
            PyGILState_Release(state)
            condition.lock()
        }
        running = false
        condition.broadcast()
        condition.unlock()
    }
}
