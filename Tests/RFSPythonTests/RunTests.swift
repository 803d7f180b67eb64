import Foundation
import Testing

@testable import RFSPython
import RFSWire

@Suite("Script runs", .timeLimit(.minutes(2)))
struct RunTests {
    @Test func outputArrivesInOrderPerLine() async throws {
        let python = try await SharedPython.interpreter()
        let output = OutputRecorder()
        let outcome = try await python.run(
            code: """
                import sys
                print("a")
                print("err", file=sys.stderr)
                print("b", "c")
                sys.stdout.write("no newline")
                """,
            filename: "/client/order.py",
            argv: ["order.py"],
            output: output.callback
        )
        #expect(outcome == .ok)
        #expect(output.chunks.value == [
            .init(stream: .stdout, text: "a\n"),
            .init(stream: .stderr, text: "err\n"),
            .init(stream: .stdout, text: "b c\n"),
            .init(stream: .stdout, text: "no newline"),
        ])
    }

    /// The first line reaches the callback while the script is still running: the script blocks in
    /// a bridge request whose handler waits for that line before it answers.
    @Test func outputIsStreamedWhileTheScriptRuns() async throws {
        let python = try await SharedPython.interpreter()
        let output = OutputRecorder()
        let outcome = try await TestRouter.shared.withConnection({ _, _, _, _ in
            let seen = await output.waitFor("first line\n")
            return jsonRPCResult(seen)
        }) { connection in
            try await python.run(
                code: """
                    import json, _rfs_bridge
                    print("first line")
                    response = json.loads(_rfs_bridge.request(\(pyLiteral(connection)), "wait", "{}", 60))
                    print("seen before end:", response["result"])
                    """,
                filename: "/client/stream.py",
                argv: [],
                output: output.callback
            )
        }
        #expect(outcome == .ok)
        #expect(output.stdout == "first line\nseen before end: True\n")
    }

    @Test func mainModuleFileAndArgv() async throws {
        let python = try await SharedPython.interpreter()
        let output = OutputRecorder()
        let outcome = try await python.run(
            code: """
                import sys
                print(__name__, __file__, sys.argv, sys.modules["__main__"].__dict__ is globals())
                print(type(__builtins__).__name__, __spec__)
                """,
            filename: "/home/me/project/job.py",
            argv: ["job.py", "--flag", "é"],
            output: output.callback
        )
        #expect(outcome == .ok)
        #expect(output.stdout == "__main__ /home/me/project/job.py ['job.py', '--flag', 'é'] True\nmodule None\n")
    }

    @Test func everyRunGetsAFreshNamespace() async throws {
        let python = try await SharedPython.interpreter()
        let first = OutputRecorder()
        #expect(try await python.run(code: "leftover = 42\nimport json", filename: "one.py", argv: [], output: first.callback) == .ok)
        let second = OutputRecorder()
        let outcome = try await python.run(
            code: "print('leftover' in globals(), 'json' in globals(), sorted(k for k in globals() if not k.startswith('__')))",
            filename: "two.py",
            argv: [],
            output: second.callback
        )
        #expect(outcome == .ok)
        #expect(second.stdout == "False False []\n")
    }

    /// Checks identities rather than comparing with a snapshot: other tests' runs may be in
    /// progress (blocked in a bridge request) when the check runs.
    @Test func sysIsRestoredAfterARun() async throws {
        let python = try await SharedPython.interpreter()
        let key = "_rfs_test_\(UInt64.random(in: 0...UInt64.max))"
        let output = OutputRecorder()
        let outcome = try await python.run(
            code: """
                import sys
                sys.argv.append("x")
                setattr(sys, \(pyLiteral(key)), (sys.stdin, sys.stdout, sys.stderr, sys.argv, sys.modules["__main__"]))
                print("hi")
                """,
            filename: "/client/\(key).py",
            argv: ["restore.py"],
            output: output.callback
        )
        #expect(outcome == .ok)
        let after = try await python.withGIL { gil in
            try gil.eval("""
                [a is not b for a, b in zip(
                    (__import__('sys').stdin, __import__('sys').stdout, __import__('sys').stderr,
                     __import__('sys').argv, __import__('sys').modules.get('__main__')),
                    getattr(__import__('sys'), \(pyLiteral(key))))] + [
                 '/client/\(key).py' not in __import__('linecache').cache,
                 delattr(__import__('sys'), \(pyLiteral(key))) is None]
                """)
        }
        #expect(after == "[True, True, True, True, True, True, True]")
        #expect(output.stdout == "hi\n")
    }

    @Test(arguments: [
        ("raise SystemExit", Int32(0), ""),
        ("import sys; sys.exit(None)", 0, ""),
        ("import sys; sys.exit(3)", 3, ""),
        ("import sys; sys.exit(-2)", -2, ""),
        ("import sys; sys.exit(True)", 1, ""),
        ("import sys; sys.exit('bye now')", 1, "bye now\n"),
        ("raise SystemExit([1, 2])", 1, "[1, 2]\n"),
        // CPython reads the code as a C long (beyond it: -1) and passes the low 32 bits to exit().
        ("import sys; sys.exit(2**100)", -1, ""),
        ("import sys; sys.exit(-2**100)", -1, ""),
        ("import sys; sys.exit(2**32 + 5)", 5, ""),
    ])
    func systemExitBecomesAnExitCode(code: String, expected: Int32, stderr: String) async throws {
        let python = try await SharedPython.interpreter()
        let output = OutputRecorder()
        let outcome = try await python.run(code: code, filename: "exit.py", argv: [], output: output.callback)
        #expect(outcome == .exit(code: expected))
        #expect(output.stderr == stderr)
    }

    @Test("an exception whose message holds a lone surrogate is reported with it escaped, as stderr shows it")
    func loneSurrogateInAnExceptionMessage() async throws {
        let python = try await SharedPython.interpreter()
        let outcome = try await python.run(
            code: "raise ValueError('bad \\udcff')", filename: "/client/surrogate.py", argv: [], output: OutputRecorder().callback)
        guard case .exception(let exception) = outcome else {
            Issue.record("expected an exception, got \(outcome)")
            return
        }
        #expect(exception.type == "ValueError")
        #expect(exception.message == "bad \\udcff")
        #expect(exception.traceback.hasSuffix("ValueError: bad \\udcff\n"))
    }

    @Test func uncaughtExceptionCarriesACPythonStyleTraceback() async throws {
        let python = try await SharedPython.interpreter()
        let output = OutputRecorder()
        let outcome = try await python.run(
            code: """
                def fail(value):
                    raise ValueError(f"bad value {value}")

                print("before")
                fail(7)
                """,
            filename: "/client/src/job.py",
            argv: [],
            output: output.callback
        )
        guard case .exception(let exception) = outcome else {
            Issue.record("expected an exception, got \(outcome)")
            return
        }
        #expect(exception.type == "ValueError")
        #expect(exception.message == "bad value 7")
        #expect(exception.traceback == """
            Traceback (most recent call last):
              File "/client/src/job.py", line 5, in <module>
                fail(7)
              File "/client/src/job.py", line 2, in fail
                raise ValueError(f"bad value {value}")
            ValueError: bad value 7

            """)
        #expect(output.stdout == "before\n")
    }

    @Test func exceptionClassesDefinedInTheScriptAreNamedPlainly() async throws {
        let python = try await SharedPython.interpreter()
        let outcome = try await python.run(
            code: "class Oops(Exception):\n    pass\nraise Oops('x')\n",
            filename: "oops.py",
            argv: [],
            output: { _, _ in }
        )
        guard case .exception(let exception) = outcome else {
            Issue.record("expected an exception, got \(outcome)")
            return
        }
        #expect(exception.type == "Oops")
        #expect(exception.traceback.hasSuffix("Oops: x\n"))
    }

    @Test func syntaxErrorInTheScriptIsReportedLikeCPython() async throws {
        let python = try await SharedPython.interpreter()
        let outcome = try await python.run(
            code: "x = 1\ny = (\n",
            filename: "/client/broken.py",
            argv: [],
            output: { _, _ in }
        )
        guard case .exception(let exception) = outcome else {
            Issue.record("expected an exception, got \(outcome)")
            return
        }
        #expect(exception.type == "SyntaxError")
        #expect(exception.traceback.hasPrefix("  File \"/client/broken.py\", line 2\n"))
        #expect(exception.traceback.contains("y = ("))
    }

    @Test func scriptsCannotReadTheWorkersStdin() async throws {
        let python = try await SharedPython.interpreter()
        let output = OutputRecorder()
        let outcome = try await python.run(
            code: "import sys\nprint(repr(sys.stdin.read()))\ntry:\n    input('? ')\nexcept EOFError:\n    print('EOF')\n",
            filename: "stdin.py",
            argv: [],
            output: output.callback
        )
        #expect(outcome == .ok)
        #expect(output.stdout == "''\n? EOF\n")
    }

    @Test func nonASCIIOutputAndLoneSurrogates() async throws {
        let python = try await SharedPython.interpreter()
        let output = OutputRecorder()
        let outcome = try await python.run(
            code: "print('héllo ✓ 🐍')\nprint('\\udc80')",
            filename: "text.py",
            argv: [],
            output: output.callback
        )
        #expect(outcome == .ok)
        #expect(output.stdout == "héllo ✓ 🐍\n\\udc80\n")
    }

    @Test func withGILEvaluatesAndReportsPythonErrors() async throws {
        let python = try await SharedPython.interpreter()
        #expect(try await python.withGIL { gil in try gil.eval("6 * 7") } == "42")
        await #expect(throws: PythonError.self) {
            try await python.withGIL { gil in try gil.exec("1 / 0") }
        }
        do {
            try await python.withGIL { gil in try gil.exec("def f():\n    raise KeyError('k')\nf()\n") }
        } catch PythonError.exception(let exception, let context) {
            #expect(exception.type == "KeyError")
            #expect(exception.message == "'k'")
            #expect(exception.traceback.contains("in f"))
            #expect(context == "exec")
        }
        #expect(python.pythonVersion.hasPrefix("3."))
    }
}
