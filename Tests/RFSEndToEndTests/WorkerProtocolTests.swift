import RFSProtocol
import Testing

extension EndToEnd {
    /// The worker's JSON-RPC surface, spoken byte by byte over a real WebSocket (DESIGN.md §3).
    /// Every malformed message gets its error reply and the session stays usable.
    @Suite(.timeLimit(.minutes(2)))
    struct WorkerProtocolTests {
        @Test("every JSON-RPC error class comes back on the wire and the session survives")
        func errorClasses() async throws {
            let worker = try await TestWorker.start()
            let client = try await RawClient(worker: worker)

            try await client.send("{not json")
            let parse = try #require(try await client.receive())
            #expect(parse["error"]?["code"] == -32700)
            #expect(parse["id"] == .null)

            try await client.send(#"{"jsonrpc":"1.0","id":1,"method":"request_plugin_info"}"#)
            let invalid = try #require(try await client.receive())
            #expect(invalid["error"]?["code"] == -32600)

            try await client.send(#"{"jsonrpc":"2.0","id":2,"method":"no_such_method","params":{}}"#)
            let missing = try #require(try await client.receive())
            #expect(missing["error"]?["code"] == -32601)
            #expect(missing["id"] == 2)

            try await client.send(#"{"jsonrpc":"2.0","id":3,"method":"run","params":{"code":42}}"#)
            let badParams = try #require(try await client.receive())
            #expect(badParams["error"]?["code"] == -32602)
            #expect(badParams["id"] == 3)

            let (info, _) = try await client.call("request_plugin_info")
            #expect(info["result"]?["full_names"] != nil)
            await client.close()
            _ = await worker.stop()
        }

        @Test("batches are answered with an array; notifications get no reply")
        func batches() async throws {
            let worker = try await TestWorker.start()
            let client = try await RawClient(worker: worker)
            try await client.send(
                #"[{"jsonrpc":"2.0","id":"a","method":"request_plugin_info","params":{}},"#
                    + #"{"jsonrpc":"2.0","method":"set_connection_id","params":{"id":"quiet"}},"#
                    + #"{"jsonrpc":"2.0","id":"b","method":"nope"}]"#)
            let reply = try #require(try await client.receive())
            let items = try #require(reply.arrayValue)
            #expect(items.count == 2)
            #expect(items.contains { $0["id"] == "a" && $0["result"]?["full_names"] != nil })
            #expect(items.contains { $0["id"] == "b" && $0["error"]?["code"] == -32601 })

            // A batch of only notifications: nothing comes back; the next request's reply is next.
            try await client.send(#"[{"jsonrpc":"2.0","method":"set_connection_id","params":{"id":"x"}}]"#)
            let (next, _) = try await client.call("request_plugin_info")
            #expect(next["result"] != nil)
            await client.close()
            _ = await worker.stop()
        }

        @Test("initialize reports protocol 1, the worker and its Python; a client without 1 is refused")
        func initialize() async throws {
            let worker = try await TestWorker.start()
            let client = try await RawClient(worker: worker)
            let (reply, _) = try await client.call(
                "initialize", params: ["protocol_versions": [1], "client": ["name": "raw", "version": "0"]])
            #expect(reply["result"]?["protocol_version"] == 1)
            #expect(reply["result"]?["worker"]?["python"]?.stringValue?.hasPrefix("3.") == true)
            let (refused, _) = try await client.call("initialize", params: ["protocol_versions": [7]])
            #expect(refused["error"]?["code"] == -32602)
            await client.close()
            _ = await worker.stop()
        }

        @Test("prefetch: offered in initialize; a package's prefetched modules are not asked for, and only in its run", arguments: ["run", "session", "shared"])
        func prefetch(isolation: String) async throws {
            let worker = try await TestWorker.start(extraArguments: ["--isolation", isolation])
            let client = try await RawClient(worker: worker)
            let (reply, _) = try await client.call("initialize", params: ["protocol_versions": [1]])
            let offer = reply["result"]?["capabilities"]?["prefetch"]
            #expect((offer?["max_modules"]?.intValue ?? 0) > 0)
            #expect((offer?["max_bytes"]?.intValue ?? 0) > 0)
            _ = try await client.call("set_connection_id", params: ["id": "raw"])

            func module(_ name: String, _ source: String, package: Bool = false) -> JSONValue {
                let file = "/client/" + name.replacingOccurrences(of: ".", with: "/") + (package ? "/__init__.py" : ".py")
                return [
                    "name": .string(name), "origin": .string(file), "is_package": .bool(package),
                    "submodule_search_locations": package ? [.string(String(file.dropLast("/__init__.py".count)))] : nil,
                    "source": .string(source),
                ]
            }
            let context: JSONValue = ["connection_id": "raw", "top_level_names": ["wpkg"]]
            guard case .object(var package) = module("wpkg", "", package: true) else { return }
            package["prefetched"] = [module("wpkg.a", "A = 1\n"), module("wpkg.b", "B = 2\n")]

            let (first, output) = try await client.call(
                "run", params: ["code": "import wpkg.a, wpkg.b; print(wpkg.a.A + wpkg.b.B)", "context": context],
                modules: ["wpkg": .object(package)])
            #expect(first["result"] == ["status": "ok"])
            #expect(output == "3\n")
            #expect(await client.fetched == ["wpkg"])

            // The next run asks afresh: what the first run prefetched is not served to it.
            let (second, secondOutput) = try await client.call(
                "run", params: ["code": "import wpkg.a; print(wpkg.a.A)", "context": context],
                modules: ["wpkg": module("wpkg", "", package: true), "wpkg.a": module("wpkg.a", "A = 10\n")])
            #expect(second["result"] == ["status": "ok"])
            #expect(secondOutput == "10\n")
            #expect(await client.fetched == ["wpkg", "wpkg", "wpkg.a"])
            await client.close()
            _ = await worker.stop()
        }

        @Test("run streams output notifications before its reply and maps every ending", arguments: ["run", "session", "shared"])
        func runOutcomes(isolation: String) async throws {
            let worker = try await TestWorker.start(extraArguments: ["--isolation", isolation])
            let client = try await RawClient(worker: worker)
            let (ok, output) = try await client.call(
                "run", params: ["code": "print('hello'); import sys; print('oops', file=sys.stderr)", "filename": "/t/a.py"])
            #expect(ok["result"] == ["status": "ok"])
            #expect(output == "hello\noops\n")

            let (exit, _) = try await client.call("run", params: ["code": "import sys; sys.exit(3)"])
            #expect(exit["result"] == ["status": "exit", "code": 3])

            let (failure, _) = try await client.call(
                "run", params: ["code": "def f():\n    raise ValueError('bad value')\nf()\n", "filename": "/t/boom.py"])
            #expect(failure["result"]?["status"] == "exception")
            #expect(failure["result"]?["exception"]?["type"] == "ValueError")
            #expect(failure["result"]?["exception"]?["message"] == "bad value")
            let traceback = failure["result"]?["exception"]?["traceback"]?.stringValue ?? ""
            #expect(traceback.contains("/t/boom.py\", line 2"))
            await client.close()
            _ = await worker.stop()
        }

        @Test("set_connection_id takes params.id, or the request's own id (the VS Code client's form)")
        func connectionIDFallback() async throws {
            let worker = try await TestWorker.start()
            let client = try await RawClient(worker: worker)
            try await client.send(#"{"jsonrpc":"2.0","id":"conn-42","method":"set_connection_id","params":{}}"#)
            let reply = try #require(try await client.receive())
            #expect(reply["result"] == .null)
            #expect(reply["id"] == "conn-42")
            // The session now serves imports for context "conn-42".
            let module: JSONValue = [
                "name": "vsmod", "origin": "/client/vsmod.py", "is_package": false,
                "submodule_search_locations": .null, "source": "VALUE = 'from vs code'\n",
            ]
            let (run, output) = try await client.call(
                "run",
                params: [
                    "code": "import vsmod; print(vsmod.VALUE, vsmod.__file__)",
                    "context": ["connection_id": "conn-42", "top_level_names": ["vsmod"]],
                ],
                modules: ["vsmod": module])
            #expect(run["result"] == ["status": "ok"])
            #expect(output == "from vs code /client/vsmod.py\n")
            let (info, _) = try await client.call("request_plugin_info")
            #expect(info["result"]?["full_names"] == ["vsmod"])
            await client.close()
            _ = await worker.stop()
        }
    }
}
