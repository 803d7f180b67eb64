import Foundation
import RFSProtocol
import Testing

extension EndToEnd {
    /// One client's trouble is never another's: disconnects, cancellation and same-named packages.
    @Suite(.timeLimit(.minutes(2)))
    struct IsolationTests {
        @Test("two clients whose same-named package differs each get their own, in turn")
        func twoClientsSameName() async throws {
            let worker = try await TestWorker.start()
            for (source, expected) in [(Paths.workspace, "a"), (Paths.workspaceB, "b"), (Paths.workspace, "a")] {
                let result = try await worker.run(Paths.job("who.py"), sources: [source])
                #expect(result.status == 0, "stderr: \(result.stderr)")
                #expect(result.stdout == "\(expected)\n")
            }
            _ = await worker.stop()
        }

        @Test("a client that disconnects mid-import fails that import at once and does not stall the next client")
        func disconnectMidImport() async throws {
            // A fetch timeout far longer than the test's time limit: only an immediate failure passes.
            let worker = try await TestWorker.start(extraArguments: ["--fetch-timeout", "600"])
            let quitter = try await RawClient(worker: worker)
            _ = try await quitter.call("set_connection_id", params: ["id": "quitter"])
            try await quitter.send(
                #"{"jsonrpc":"2.0","id":1,"method":"run","params":{"code":"import slow_mod","#
                    + #""context":{"connection_id":"quitter","top_level_names":["slow_mod"]}}}"#)
            // Wait for the worker's fetch_module: the import is now in progress, blocked on us.
            var sawFetch = false
            while let message = try await quitter.receive() {
                if message["method"] == "fetch_module" {
                    sawFetch = true
                    break
                }
            }
            #expect(sawFetch)
            let next = try ChildProcess(
                ["run", "--worker", worker.url, "--token-file", worker.tokenFile.path, "--source", Paths.workspace,
                 Paths.job("hello.py")])
            next.closeStdin()
            await quitter.close()
            let result = await next.result()
            #expect(result.status == 0, "stderr: \(result.stderr)")
            #expect(result.stdout == "hello from the worker\n")
            _ = await worker.stop()
        }

        @Test("Ctrl-C cancels the run (exit 130) and the worker serves the next one")
        func cancellation() async throws {
            let worker = try await TestWorker.start()
            let spinning = try ChildProcess(
                ["run", "--worker", worker.url, "--token-file", worker.tokenFile.path, "--source", Paths.workspace,
                 Paths.job("forever.py")])
            spinning.closeStdin()
            #expect(await spinning.waitForLine(containing: "ready") != nil)
            spinning.signal(SIGINT)
            let result = await spinning.result()
            #expect(result.status == 130)

            let after = try await worker.run(Paths.job("hello.py"), sources: [Paths.workspace])
            #expect(after.status == 0)
            #expect(after.stdout == "hello from the worker\n")
            _ = await worker.stop()
        }

        @Test("a cancelled raw run is answered with -32800 and the session stays open")
        func cancelRequestOnTheWire() async throws {
            let worker = try await TestWorker.start()
            let client = try await RawClient(worker: worker)
            try await client.send(
                #"{"jsonrpc":"2.0","id":"spin","method":"run","params":{"code":"print('spinning', flush=True)\nwhile True: pass"}}"#)
            while let message = try await client.receive() {
                if message["method"] == "output" { break }
            }
            try await client.send(#"{"jsonrpc":"2.0","method":"$/cancelRequest","params":{"id":"spin"}}"#)
            var reply: JSONValue?
            while let message = try await client.receive() {
                if message["id"] == "spin" {
                    reply = message
                    break
                }
            }
            #expect(reply?["error"]?["code"] == -32800)
            let (again, output) = try await client.call("run", params: ["code": "print(6 * 7)"])
            #expect(again["result"] == ["status": "ok"])
            #expect(output == "42\n")
            await client.close()
            _ = await worker.stop()
        }

        @Test("the child worker exits when its parent's end of stdin closes")
        func childExitsWithParent() async throws {
            let worker = try await TestWorker.start()
            let result = await worker.stop()
            #expect(result.status == 0)
        }
    }
}
