import Foundation
import RFSProtocol
import Testing

extension EndToEnd {
    /// `rfs serve`: a long-lived source feeding the imports of runs that other tools start.
    @Suite(.timeLimit(.minutes(2)))
    struct ServeTests {
        @Test(
            "runs whose context names the serve session's id import from its folder; each fetch is logged",
            arguments: ["run", "session", "shared"])
        func serveFeedsOtherRuns(isolation: String) async throws {
            let worker = try await TestWorker.start(extraArguments: ["--isolation", isolation])
            let serve = try ChildProcess(
                ["serve", Paths.workspace, "--worker", worker.url, "--token-file", worker.tokenFile.path, "--id", "editor"])
            let banner = try #require(await serve.nextLine())
            #expect(banner.contains("connection id editor"))
            #expect(banner.contains("toplevel_mod"))

            let tool = try await RawClient(worker: worker)
            let (reply, output) = try await tool.call(
                "run",
                params: [
                    "code": "import toplevel_mod; print(toplevel_mod.VALUE, toplevel_mod.greet('serve'))",
                    "context": ["connection_id": "editor", "top_level_names": ["toplevel_mod"]],
                ])
            #expect(reply["result"] == ["status": "ok"])
            #expect(output == "42 hello, serve\n")
            let (info, _) = try await tool.call("request_plugin_info")
            #expect(info["result"]?["full_names"] == ["toplevel_mod"])
            await tool.close()

            serve.signal(SIGINT)
            let result = await serve.result()
            #expect(result.status == 0)
            #expect(result.stderr.contains("module=toplevel_mod"))
            #expect(result.stderr.contains("bytes="))
            #expect(result.stderr.contains("us="))
            _ = await worker.stop()
        }
    }
}
