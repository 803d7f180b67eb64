import RFSProtocol
import RFSWire

/// The protocol's real messages, built with the typed shapes worker and client use (RFSWire) and
/// encoded by the project's own encoder, so the seeds follow the protocol as it is, not as
/// remembered. Each has a file name saying what it is.
enum ProtocolMessages {
    static let moduleSource = """
        \"\"\"A module with what real sources hold: quotes, backslashes, tabs, non-ASCII.\"\"\"
        import os\n\tpath = "C:\\\\temp"  # café ☕ 😀
        def f(x):\n    return {"a": [1, 2.5, -3e10, None]}

        """

    static var all: [(name: String, text: String)] {
        var messages: [(String, String)] = []
        func request(_ name: String, id: JSONRPCID, _ method: String, _ params: JSONValue?) {
            messages.append((name, JSONRPCEncoder.encode(JSONRPCRequest(id: id, method: method, params: params))))
        }
        func notification(_ name: String, _ method: String, _ params: JSONValue?) {
            messages.append((name, JSONRPCEncoder.encode(JSONRPCNotification(method: method, params: params))))
        }
        func result(_ name: String, id: JSONRPCID, _ value: JSONValue) {
            messages.append((name, JSONRPCEncoder.encode(JSONRPCResponse(id: id, result: value))))
        }
        func error(_ name: String, id: JSONRPCID?, _ error: JSONRPCError) {
            messages.append((name, JSONRPCEncoder.encode(JSONRPCResponse(id: id, error: error))))
        }

        // Session set-up (client → worker).
        request("initialize-request", id: 1, WireMethod.initialize,
                InitializeParams(clientName: "rfs", clientVersion: RFSVersion.current).json)
        result("initialize-result", id: 1, InitializeResult(
            protocolVersion: WireProtocol.version, workerName: "worker-1", workerVersion: RFSVersion.current,
            python: "3.11.2", capabilities: WorkerCapabilities(
                prefetch: PrefetchOffer(maxModules: 64, maxBytes: 4 << 20), isolation: .session, maxRuns: 4,
                tree: TreeOffer(maxReplyBytes: 1 << 20))).json)
        request("set-connection-id-request", id: "c-2", WireMethod.setConnectionID, SetConnectionIDParams(id: "laptop-7f3a").json)
        result("set-connection-id-result", id: "c-2", .null)
        request("request-plugin-info-request", id: 3, WireMethod.requestPluginInfo, nil)
        result("request-plugin-info-result", id: 3, PluginInfoResult(fullNames: ["mypkg", "mypkg.sub", "helpers"]).json)

        // A run with its context and tree manifest, and each kind of result.
        let tree = TreeManifest(snapshot: "s-5d41402a", roots: [
            TreeManifest.Root(path: "/home/me/project", kind: .source, files: [
                TreeManifest.File(path: "helpers.py", size: 120, sha256: String(repeating: "ab", count: 32)),
                TreeManifest.File(path: "mypkg/__init__.py", size: 0, sha256: String(repeating: "0f", count: 32)),
                TreeManifest.File(path: "mypkg/_speedups.so", size: 4096, sha256: nil),
            ]),
        ])
        request("run-request", id: 4, WireMethod.run, RunParams(
            code: "import mypkg\nprint(mypkg.f(1))\n", filename: "main.py", argv: ["main.py", "--verbose"],
            context: ExecutionContext(connectionID: "laptop-7f3a", topLevelNames: ["mypkg", "helpers"]), tree: tree).json)
        result("run-result-ok", id: 4, RunResult.ok.json)
        result("run-result-exit", id: 4, RunResult.exit(code: 3).json)
        result("run-result-exception", id: 4, RunResult.exception(PythonException(
            type: "ZeroDivisionError", message: "division by zero",
            traceback: "Traceback (most recent call last):\n  File \"main.py\", line 2, in <module>\n")).json)
        result("run-result-crashed", id: 4, RunResult.crashed(HostCrash(signal: "SIGSEGV", exitCode: nil, reason: "signal")).json)

        // Imports: the worker asks the client (worker → client), the client answers.
        request("fetch-module-request", id: 17, WireMethod.fetchModule, FetchModuleParams(moduleName: "mypkg.sub").json)
        result("fetch-module-result", id: 17, FetchModuleResult(
            name: "mypkg.sub", origin: "/home/me/project/mypkg/sub.py", isPackage: false, submoduleSearchLocations: nil,
            source: moduleSource).json)
        result("fetch-module-result-prefetched", id: 18, FetchModuleResult(
            name: "mypkg", origin: "/home/me/project/mypkg/__init__.py", isPackage: true,
            submoduleSearchLocations: ["/home/me/project/mypkg"], source: "from . import sub\n",
            prefetched: [
                FetchModuleResult(name: "mypkg.sub", origin: "/home/me/project/mypkg/sub.py", isPackage: false,
                                  submoduleSearchLocations: nil, source: moduleSource),
                FetchModuleResult(name: "mypkg.ns", origin: nil, isPackage: true,
                                  submoduleSearchLocations: ["/home/me/project/mypkg/ns"], source: nil),
            ]).json)
        result("fetch-module-result-not-found", id: 19, .null)
        error("fetch-module-error", id: 20, JSONRPCError(
            code: JSONRPCError.invalidParams, message: "cannot decode /home/me/project/bad.py",
            data: ["line": 3, "encoding": "utf-8"]))

        // The worker's tree reads (worker → client) and their replies.
        request("tree-read-request", id: 21, WireMethod.treeRead, TreeReadParams(
            snapshot: "s-5d41402a", entries: [.init(index: 0), .init(index: 2, offset: 65536)], maxBytes: 1 << 20,
            missing: TreeBitset(bytes: [0b101]), prefetchFor: [1]).json)
        result("tree-read-result", id: 21, TreeReadResult(
            blobs: [
                TreeBlob(entry: 0, payload: .utf8("def helper():\n    return 1\n")),
                TreeBlob(entry: 2, offset: 65536, payload: .base64(Base64.encode([0x7F, 0x45, 0x4C, 0x46, 0, 1])), more: true),
            ],
            failed: [.init(entry: 1, message: "file changed since the manifest")], morePrefetch: true).json)

        // Notifications.
        notification("output-stdout-notification", WireMethod.output, OutputParams(stream: .stdout, text: "hello\n").json)
        notification("output-stderr-notification", WireMethod.output, OutputParams(stream: .stderr, text: "warning: é\r\n").json)
        notification("cancel-request-notification", WireMethod.cancelRequest, CancelParams(id: 4).json)
        notification("cancel-request-string-id-notification", WireMethod.cancelRequest, CancelParams(id: "c-2").json)

        // Errors, including the ones the peer itself produces.
        error("error-parse", id: nil, .parseError("invalid JSON at byte 7: unexpected end of input"))
        error("error-invalid-request", id: 9, .invalidRequest("params must be an object or an array, got string"))
        error("error-method-not-found", id: 10, .methodNotFound("frobnicate"))
        error("error-cancelled", id: 4, .requestCancelled())
        error("error-permission-denied", id: 11, JSONRPCError(code: -32001, message: "permission denied: token 'ci' may not run"))
        error("error-limit-exceeded", id: nil, JSONRPCError(
            code: -32002, message: "batch of 10000 requests exceeds the limit of 128 (max_batch_size)"))

        // Batches.
        let initialize = JSONRPCMessage.request(JSONRPCRequest(
            id: 1, method: WireMethod.initialize, params: InitializeParams(clientName: "rfs", clientVersion: "0.1.0").json))
        let pluginInfo = JSONRPCMessage.request(JSONRPCRequest(id: 2, method: WireMethod.requestPluginInfo))
        let output = JSONRPCMessage.notification(JSONRPCNotification(
            method: WireMethod.output, params: OutputParams(stream: .stdout, text: "x").json))
        let reply = JSONRPCMessage.response(JSONRPCResponse(id: 2, result: PluginInfoResult(fullNames: ["a"]).json))
        let failure = JSONRPCMessage.response(JSONRPCResponse(id: 3, error: .methodNotFound("nope")))
        messages.append(("batch-requests", JSONRPCEncoder.encodeBatch([initialize, pluginInfo, output])))
        messages.append(("batch-responses", JSONRPCEncoder.encodeBatch([reply, failure])))

        // What a peer must refuse cleanly (a few, the fuzzer finds the rest).
        messages.append(("invalid-empty-batch", "[]"))
        messages.append(("invalid-batch-mixed", #"[{"jsonrpc":"2.0","method":"run","id":1.5},1,{"jsonrpc":"1.0","result":0,"id":2}]"#))
        messages.append(("invalid-both-result-and-error", #"{"jsonrpc":"2.0","result":1,"error":{"code":1,"message":""},"id":3}"#))
        messages.append(("invalid-repeated-members", #"{"jsonrpc":"2.0","id":1,"result":{},"id":2}"#))
        messages.append(("invalid-escaped-keys", #"{"\u006asonrpc":"\u0032.0","\u0069d":"\ud83d\ude00","result":[1e400,-0.0,-9223372036854775808]}"#))
        messages.append(("invalid-truncated", #"{"jsonrpc":"2.0","method":"run","params":{"code":"print(1)""#))
        return messages
    }
}
