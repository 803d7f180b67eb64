import Foundation
import Testing

@testable import RFSPython
import RFSWire

/// Each test calls `interrupt()` only while its own run is known to be the current one (it has
/// printed a marker and cannot end by itself), so tests running in parallel are not affected.
@Suite("Interrupts", .timeLimit(.minutes(2)))
struct InterruptTests {
    private func expectKeyboardInterrupt(_ outcome: RunResult, sourceLine: String? = nil) {
        guard case .exception(let exception) = outcome else {
            Issue.record("expected KeyboardInterrupt, got \(outcome)")
            return
        }
        #expect(exception.type == "KeyboardInterrupt")
        #expect(exception.message == "")
        #expect(exception.traceback.hasPrefix("Traceback (most recent call last):\n"))
        #expect(exception.traceback.hasSuffix("\nKeyboardInterrupt\n"))
        if let sourceLine {
            #expect(exception.traceback.contains(sourceLine))
        }
        #expect(!exception.traceback.contains("remote_file_source/worker.py"), "the worker's own frames are hidden")
    }

    @Test func busyLoopEndsWithKeyboardInterrupt() async throws {
        let python = try await SharedPython.interpreter()
        let output = OutputRecorder()
        async let outcome = python.run(
            code: "print('spinning', flush=True)\nwhile True: pass\n",
            filename: "/client/spin.py",
            argv: [],
            output: output.callback
        )
        #expect(await output.waitFor("spinning\n"))
        python.interrupt()
        // The interrupt lands in the loop, or in the print that announced it (output reaches the
        // test while print is still returning): either way in the script's own lines.
        expectKeyboardInterrupt(try await outcome, sourceLine: "File \"/client/spin.py\"")
    }

    @Test func requestTheRunIsBlockedInGivesWayToKeyboardInterrupt() async throws {
        let python = try await SharedPython.interpreter()
        let handlerCalled = Watch(false)
        let handlerCancelled = Watch(false)
        let output = OutputRecorder()
        let outcome = try await TestRouter.shared.withConnection({ _, _, _, _ in
            handlerCalled.update { $0 = true }
            do {
                try await suspendUntilCancelled()
            } catch {
                handlerCancelled.update { $0 = true }
            }
            throw BridgeRequestError.failed("unreachable")
        }) { connection in
            async let outcome = python.run(
                code: """
                    import _rfs_bridge
                    _rfs_bridge.request(\(pyLiteral(connection)), "never", "{}", None)
                    print("not reached")
                    """,
                filename: "/client/blocked.py",
                argv: [],
                output: output.callback
            )
            #expect(await handlerCalled.wait { $0 })
            python.interrupt()
            return try await outcome
        }
        expectKeyboardInterrupt(outcome, sourceLine: "_rfs_bridge.request(")
        #expect(output.stdout == "")
        #expect(await handlerCancelled.wait { $0 })
    }

    @Test func cancellingTheRunsTaskInterruptsIt() async throws {
        let python = try await SharedPython.interpreter()
        let output = OutputRecorder()
        let run = Task {
            try await python.run(
                code: "print('spinning', flush=True)\nn = 0\nwhile True:\n    n += 1\n",
                filename: "cancel.py",
                argv: [],
                output: output.callback
            )
        }
        #expect(await output.waitFor("spinning\n"))
        run.cancel()
        expectKeyboardInterrupt(try await run.value)
    }

    @Test func scriptCanCatchKeyboardInterruptAndGoOn() async throws {
        let python = try await SharedPython.interpreter()
        let output = OutputRecorder()
        async let outcome = python.run(
            code: """
                try:
                    print('spinning', flush=True)
                    while True: pass
                except KeyboardInterrupt:
                    print('caught')
                print('after')
                """,
            filename: "catch.py",
            argv: [],
            output: output.callback
        )
        #expect(await output.waitFor("spinning\n"))
        python.interrupt()
        #expect(try await outcome == .ok)
        #expect(output.stdout == "spinning\ncaught\nafter\n")
    }

    /// Surplus interrupts for a run that has ended are dropped, not delivered to the next run.
    @Test func lateInterruptsDoNotReachTheNextRun() async throws {
        let python = try await SharedPython.interpreter()
        let output = OutputRecorder()
        async let first = python.run(
            code: "print('spinning', flush=True)\nwhile True: pass\n",
            filename: "first.py",
            argv: [],
            output: output.callback
        )
        #expect(await output.waitFor("spinning\n"))
        for _ in 0..<5 {
            python.interrupt()
        }
        expectKeyboardInterrupt(try await first)
        let next = OutputRecorder()
        let outcome = try await python.run(
            code: "total = 0\nfor i in range(200000):\n    total += i\nprint(total)\n",
            filename: "second.py",
            argv: [],
            output: next.callback
        )
        #expect(outcome == .ok)
        #expect(next.stdout == "19999900000\n")
    }

    @Test func queuedRunCancelledBeforeItStartsNeverRuns() async throws {
        let python = try await SharedPython.interpreter()
        let blocker = OutputRecorder()
        async let first = python.run(
            code: "print('spinning', flush=True)\nwhile True: pass\n",
            filename: "blocker.py",
            argv: [],
            output: blocker.callback
        )
        #expect(await blocker.waitFor("spinning\n"))
        let queuedOutput = OutputRecorder()
        let queued = Task {
            try await python.run(code: "print('ran')", filename: "queued.py", argv: [], output: queuedOutput.callback)
        }
        queued.cancel()
        await #expect(throws: CancellationError.self) { try await queued.value }
        python.interrupt()
        expectKeyboardInterrupt(try await first)
        #expect(queuedOutput.chunks.value.isEmpty)
    }

    @Test func controllerDeliversOnlyToTheRunItWasMeantFor() {
        let controller = InterruptController()
        var scheduled = 0
        #expect(!controller.request(token: nil) { scheduled += 1 })
        controller.beginRun(token: 1)
        #expect(!controller.request(token: 2) { scheduled += 1 })
        #expect(controller.request(token: 1) { scheduled += 1 })
        #expect(!controller.takeDeliverable())  // not in the script's code yet
        #expect(controller.enterUserCode())  // pending: the caller schedules a check
        let wasInUserCode = controller.suspendUserCode()
        #expect(!controller.takeDeliverable())  // nested job
        controller.resumeUserCode(wasInUserCode)
        #expect(controller.takeDeliverable())
        #expect(!controller.takeDeliverable())  // delivered once
        #expect(controller.request(token: nil) { scheduled += 1 })
        controller.leaveUserCode()
        controller.endRun()
        controller.beginRun(token: 2)
        #expect(!controller.enterUserCode())  // the old request does not carry over
        #expect(!controller.takeDeliverable())
        controller.close()
        #expect(!controller.request(token: nil) { scheduled += 1 })
        #expect(scheduled == 2)
    }
}
