import Foundation
import Synchronization
import Testing

@testable import RFSPython
import RFSWire

@Suite("_rfs_bridge", .timeLimit(.minutes(2)))
struct BridgeTests {
    /// `BridgeConnection.request_data_sync` → `_rfs_bridge.request` → Swift handler → response
    /// dict, with the caller's id restored.
    @Test func requestRoundTripThroughADictionaryHandler() async throws {
        let python = try await SharedPython.interpreter()
        let table = ["alpha": "first", "beta": "second"]
        let seen = Mutex<[String]>([])
        let output = OutputRecorder()
        let outcome = try await TestRouter.shared.withConnection({ connection, method, paramsJSON, timeout in
            seen.withLock { $0.append("\(method) \(timeout.map { "\($0)" } ?? "none")") }
            let key = decodeParams(paramsJSON)["key"] as? String ?? ""
            return jsonRPCResult(table[key].map { ["value": $0, "connection": connection] } ?? NSNull(), id: 99)
        }) { connection in
            try await python.run(
                code: """
                    from remote_file_source.worker import BridgeConnection
                    connection = BridgeConnection(\(pyLiteral(connection)))
                    assert connection.id == \(pyLiteral(connection))
                    for key in ["alpha", "beta", "gamma"]:
                        request = {"jsonrpc": "2.0", "id": 7, "method": "lookup", "params": {"key": key}}
                        response = connection.request_data_sync(request, timeout=5)
                        result = response["result"]
                        print(response["id"], key, result and result["value"], result and result["connection"] == connection.id)
                    """,
                filename: "roundtrip.py",
                argv: [],
                output: output.callback
            )
        }
        #expect(outcome == .ok)
        #expect(output.stdout == "7 alpha first True\n7 beta second True\n7 gamma None None\n")
        #expect(seen.withLock { $0 } == ["lookup 5.0", "lookup 5.0", "lookup 5.0"])
    }

    struct Failure: Error, CustomStringConvertible {
        var description: String { "something else broke" }
    }

    @Test(arguments: [
        (BridgeRequestError.timedOut("slow client") as any Error & Sendable, "TimeoutError: slow client"),
        (BridgeRequestError.connectionLost("client went away"), "ConnectionError: client went away"),
        (BridgeRequestError.failed("bad answer"), "RuntimeError: bad answer"),
        (Failure(), "RuntimeError: m request to connection 'ID' failed: something else broke"),
    ])
    func handlerErrorsBecomePythonExceptions(error: any Error & Sendable, expected: String) async throws {
        let python = try await SharedPython.interpreter()
        let output = OutputRecorder()
        let outcome = try await TestRouter.shared.withConnection({ _, _, _, _ in throw error }) { connection in
            try await python.run(
                code: """
                    import _rfs_bridge
                    try:
                        _rfs_bridge.request(\(pyLiteral(connection)), "m", "{}", 5)
                    except Exception as e:
                        print(f"{type(e).__name__}: {e}".replace(\(pyLiteral(connection)), "ID"))
                    """,
                filename: "errors.py",
                argv: [],
                output: output.callback
            )
        }
        #expect(outcome == .ok)
        #expect(output.stdout == expected + "\n")
    }

    @Test func unknownConnectionIsAConnectionError() async throws {
        let python = try await SharedPython.interpreter()
        let output = OutputRecorder()
        let outcome = try await python.run(
            code: """
                import _rfs_bridge
                try:
                    _rfs_bridge.request("nobody", "fetch_module", '{"module_name": "x"}', None)
                except ConnectionError as e:
                    print("ConnectionError", e)
                """,
            filename: "unknown.py",
            argv: [],
            output: output.callback
        )
        #expect(outcome == .ok)
        #expect(output.stdout == "ConnectionError no connection 'nobody'\n")
    }

    @Test func badArgumentsAreTypeAndValueErrors() async throws {
        let python = try await SharedPython.interpreter()
        let output = OutputRecorder()
        let outcome = try await python.run(
            code: """
                import _rfs_bridge
                for call in (lambda: _rfs_bridge.request("c", "m"),
                             lambda: _rfs_bridge.request("c", "m", "{}", -1),
                             lambda: _rfs_bridge.request("c", "m", "{}", "soon"),
                             lambda: _rfs_bridge.write("stdnothing", "x"),
                             lambda: _rfs_bridge.write("stdout", 3)):
                    try:
                        call()
                    except Exception as e:
                        print(type(e).__name__)
                """,
            filename: "badargs.py",
            argv: [],
            output: output.callback
        )
        #expect(outcome == .ok)
        #expect(output.stdout == "TypeError\nValueError\nTypeError\nValueError\nTypeError\n")
    }

    /// A request that gets no answer fails with TimeoutError after its timeout, and the bridge
    /// cancels the handler's task.
    @Test func unansweredRequestTimesOut() async throws {
        let python = try await SharedPython.interpreter()
        let handlerCancelled = Watch(false)
        let output = OutputRecorder()
        let outcome = try await TestRouter.shared.withConnection({ _, _, _, _ in
            do {
                try await suspendUntilCancelled()
            } catch {
                handlerCancelled.update { $0 = true }
            }
            throw BridgeRequestError.failed("unreachable")
        }) { connection in
            try await python.run(
                code: """
                    import time, _rfs_bridge
                    start = time.monotonic()
                    try:
                        _rfs_bridge.request(\(pyLiteral(connection)), "hang", "{}", 0.25)
                    except TimeoutError as e:
                        elapsed = time.monotonic() - start
                        print("TimeoutError", 0.2 < elapsed < 10, e)
                    """,
                filename: "timeout.py",
                argv: [],
                output: output.callback
            )
        }
        #expect(outcome == .ok)
        #expect(output.stdout.hasPrefix("TimeoutError True hang request to connection"))
        #expect(output.stdout.hasSuffix("got no answer within 0.25 s\n"))
        #expect(await handlerCancelled.wait { $0 })
    }

    /// While the main thread waits in a request, the GIL is free: a Python thread the script
    /// started makes progress, and it is what lets the handler answer.
    @Test func gilIsReleasedWhileWaiting() async throws {
        let python = try await SharedPython.interpreter()
        let ticked = Watch(false)
        let output = OutputRecorder()
        let outcome = try await TestRouter.shared.withConnection({ _, method, _, _ in
            switch method {
            case "tick":
                ticked.update { $0 = true }
                return jsonRPCResult(true)
            default:
                return jsonRPCResult(await ticked.wait { $0 })
            }
        }) { connection in
            try await python.run(
                code: """
                    import json, threading, _rfs_bridge
                    counter = 0
                    def background():
                        global counter
                        for _ in range(10000):
                            counter += 1
                        _rfs_bridge.request(\(pyLiteral(connection)), "tick", "{}", 30)
                    thread = threading.Thread(target=background)
                    thread.start()
                    # Blocks until the background thread's request has reached Swift.
                    answer = json.loads(_rfs_bridge.request(\(pyLiteral(connection)), "wait_for_tick", "{}", 60))
                    thread.join()
                    print(answer["result"], counter)
                    """,
                filename: "gil.py",
                argv: [],
                output: output.callback
            )
        }
        #expect(outcome == .ok)
        #expect(output.stdout == "True 10000\n")
    }

    /// A handler may itself need Python: the owner thread runs `withGIL` jobs while the run that
    /// waits for the handler is blocked.
    @Test func handlerCanUsePythonWhileTheRunWaits() async throws {
        let python = try await SharedPython.interpreter()
        let output = OutputRecorder()
        let outcome = try await TestRouter.shared.withConnection({ _, _, _, _ in
            let value = try await python.withGIL { gil in
                try gil.eval("__import__('sys').modules['__main__'].marker * 2")
            }
            return jsonRPCResult(value)
        }) { connection in
            try await python.run(
                code: """
                    import json, _rfs_bridge
                    marker = 21
                    print(json.loads(_rfs_bridge.request(\(pyLiteral(connection)), "m", "{}", 60))["result"])
                    """,
                filename: "nested.py",
                argv: [],
                output: output.callback
            )
        }
        #expect(outcome == .ok)
        #expect(output.stdout == "42\n")
    }

    @Test func outputOfThreadsAfterTheRunDoesNotReachTheNextRun() async throws {
        let python = try await SharedPython.interpreter()
        let first = OutputRecorder()
        let release = Watch(false)
        let outcome = try await TestRouter.shared.withConnection({ _, _, _, _ in
            jsonRPCResult(await release.wait { $0 })
        }) { connection in
            let outcome = try await python.run(
                code: """
                    import sys, threading, _rfs_bridge
                    out = sys.stdout
                    def late():
                        _rfs_bridge.request(\(pyLiteral(connection)), "wait", "{}", 60)
                        out.write("late line\\n")
                    threading.Thread(target=late, daemon=True).start()
                    print("during run")
                    """,
                filename: "late.py",
                argv: [],
                output: first.callback
            )
            let second = OutputRecorder()
            let next = try await python.run(
                code: "import time\nrelease_seen = True\nprint('second run')",
                filename: "next.py",
                argv: [],
                output: second.callback
            )
            release.update { $0 = true }
            #expect(next == .ok)
            #expect(second.stdout == "second run\n")
            return outcome
        }
        #expect(outcome == .ok)
        #expect(first.stdout == "during run\n")
    }
}
