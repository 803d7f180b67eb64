import RFSProtocol
import RFSWire
import Testing

/// The protocol's shapes: every encoder's output is what its decoder reads back, and bad input
/// is refused with an error that names the method and the member.
@Suite("Wire shapes")
struct WireTests {
    @Test("run params round-trip, with and without a context")
    func runParamsRoundTrip() throws {
        let full = RunParams(
            code: "print(1)", filename: "/c/job.py", argv: ["/c/job.py", "-v"],
            context: ExecutionContext(connectionID: "c1", topLevelNames: ["pkg", "mod"]))
        #expect(try RunParams(json: full.json) == full)
        let bare = try RunParams(json: ["code": "x = 1"])
        #expect(bare.filename == "<rfs-run>")
        #expect(bare.argv == ["<rfs-run>"])
        #expect(bare.context == nil)
    }

    @Test(arguments: [
        (JSONValue.string("nope"), "run: params must be an object with a 'code' string"),
        (JSONValue.object(["code": 1]), "run: 'code' must be a string"),
        (JSONValue.object(["code": "", "argv": [1]]), "run: 'argv' must be an array of strings"),
        (JSONValue.object(["code": "", "context": 3]), "run: 'context' must be an object"),
        (JSONValue.object(["code": "", "context": ["top_level_names": [""]]]), "run: 'context.top_level_names' must hold non-empty strings"),
        (JSONValue.object(["code": "", "context": ["connection_id": 5]]), "run: 'context.connection_id' must be a string or null"),
    ] as [(JSONValue, String)])
    func runParamsRefusals(params: JSONValue, message: String) {
        #expect(throws: JSONRPCError.invalidParams(message)) { try RunParams(json: params) }
    }

    @Test("a context whose names exceed max_context_bytes is refused, naming the size and the limit")
    func contextNamesAreBounded() throws {
        let atLimit: JSONValue = ["code": "", "context": ["top_level_names": .array([.string(String(repeating: "n", count: 4 << 20))])]]
        #expect(try RunParams(json: atLimit).context?.topLevelNames.first?.utf8.count == 4 << 20)
        let over: JSONValue = ["code": "", "context": ["top_level_names": .array([.string(String(repeating: "n", count: 4 << 20)), "x"])]]
        #expect(throws: JSONRPCError.invalidParams(
            "run: 'context.top_level_names' holds 4194305 bytes of names, over the limit of 4194304 (max_context_bytes)"
        )) { try RunParams(json: over) }
    }

    @Test("every run result status round-trips, crashed with its reason")
    func runResults() throws {
        let results: [RunResult] = [
            .ok, .exit(code: -1), .exception(PythonException(type: "ValueError", message: "m", traceback: "t")),
            .crashed(HostCrash(signal: "SIGSEGV", exitCode: nil)),
            .crashed(HostCrash(signal: nil, exitCode: 3)),
            .crashed(HostCrash(signal: "SIGKILL", exitCode: nil, reason: "run_memory", message: "too big")),
        ]
        for result in results {
            #expect(try RunResult(json: result.json) == result)
        }
        #expect(RunResult.crashed(HostCrash(signal: "SIGSEGV", exitCode: nil)).json
            == ["status": "crashed", "signal": "SIGSEGV", "exit_code": .null])
        #expect(throws: JSONRPCError.self) { try RunResult(json: ["status": "maybe"]) }
    }

    @Test("set_connection_id takes params.id, else the request's own id (the VS Code client)")
    func connectionIDs() throws {
        #expect(try SetConnectionIDParams(request: JSONRPCRequest(id: 1, method: "set_connection_id", params: ["id": "abc"])).id == "abc")
        #expect(try SetConnectionIDParams(request: JSONRPCRequest(id: "vscode-7", method: "set_connection_id")).id == "vscode-7")
        #expect(throws: JSONRPCError.self) {
            try SetConnectionIDParams(request: JSONRPCRequest(id: 1, method: "set_connection_id", params: ["id": ""]))
        }
    }

    @Test("initialize negotiates version 1, or names both lists")
    func initialize() throws {
        #expect(try InitializeParams(json: nil).negotiatedVersion() == 1)
        #expect(try InitializeParams(json: ["protocol_versions": [2, 1]]).negotiatedVersion() == 1)
        #expect(
            throws: JSONRPCError.invalidParams(
                "initialize: no common protocol version (client offers [2], worker speaks [1])")
        ) { try InitializeParams(json: ["protocol_versions": [2]]).negotiatedVersion() }
        let result = InitializeResult(
            protocolVersion: 1, workerName: "w", workerVersion: "v", python: "3.11.2",
            capabilities: WorkerCapabilities(prefetch: PrefetchOffer(maxModules: 4, maxBytes: 99), isolation: .session, maxRuns: 3))
        let decoded = try InitializeResult(json: result.json)
        #expect(decoded == result)
        #expect(result.json["capabilities"]?["isolation"] == ["mode": "session", "max_runs": 3])
        #expect(WorkerCapabilities(json: ["prefetch": ["max_modules": 0, "max_bytes": 5]]).prefetch == nil)
    }

    @Test("output is split on character boundaries, never over the limit")
    func outputSplitting() {
        let text = String(repeating: "a€😀", count: 1000)  // 1 + 3 + 4 bytes
        for limit in [1, 2, 3, 5, 7, 64, 1000] {
            let pieces = OutputParams.split(text, maxBytes: limit)
            #expect(pieces.joined() == text)
            // A piece exceeds the limit only when one character is longer than the limit.
            #expect(pieces.allSatisfy { $0.utf8.count <= max(limit, 4) })
        }
        #expect(OutputParams.split("short", maxBytes: 100) == ["short"])
    }

    @Test("an output message of the largest piece of control characters fits the message limit")
    func outputMessagesFit() {
        let limit = 4096
        let piece = String(repeating: "\u{01}", count: OutputParams.maxTextBytes(maxMessageSize: limit))
        #expect(OutputParams(stream: .stdout, text: piece).message.utf8.count <= limit)
        #expect(OutputParams(stream: .stderr, text: "x").message.hasPrefix(#"{"jsonrpc":"2.0","method":"output","#))
    }

    @Test("a host fetch reply carries the client's reply verbatim, found by its prefix")
    func hostFetchReplies() {
        let clientReply = #"{"jsonrpc":"2.0","id":12,"result":{"name":"m","source":"x = '}'"}}"#
        let frame = HostFetchReply.success(id: 7, clientReply: clientReply)
        #expect(HostFetchReply.parse(frame, expecting: 7) == .reply(Substring(clientReply)))
        #expect(HostFetchReply.parse(frame, expecting: 8) == nil)
        #expect(HostFetchReply.id(of: frame) == 7)
        let failure = HostFetchReply.failure(id: 9, .timeout, message: "no answer")
        #expect(HostFetchReply.parse(failure, expecting: 9) == .failure(.timeout, message: "no answer"))
        #expect(HostFetchReply.id(of: failure) == 9)
    }

    @Test("the fetch request splices Python's params text without parsing it")
    func hostFetchRequest() throws {
        let text = HostFetchParams.message(
            id: 3, connectionID: "c\"1", method: "fetch_module", paramsJSON: #"{"module_name": "pkg.sub"}"#, timeout: 2.5)
        guard case .single(.success(.request(let request))) = JSONRPCDecoder.decode(text) else {
            Issue.record("not a request: \(text)")
            return
        }
        let params = try HostFetchParams(json: request.params)
        #expect(request.id == 3)
        #expect(params.connectionID == "c\"1")
        #expect(params.params == ["module_name": "pkg.sub"])
        #expect(params.timeout == 2.5)
    }

    @Test("a host refuses to start without the cookie, or without a common version")
    func hostHandshake() {
        #expect(HostProtocol.refusal(environment: [:])?.contains("not meant to be run by hand") == true)
        var environment = HostProtocol.environment(parentPID: 1)
        #expect(HostProtocol.refusal(environment: environment) == nil)
        environment[HostProtocol.versionsVariable] = "7"
        #expect(HostProtocol.refusal(environment: environment)?.contains("no common protocol version") == true)
    }

    @Test("signal names cross the wire both ways")
    func signalNames() {
        #expect(SignalName.name(of: 11) == "SIGSEGV")
        #expect(SignalName.number(of: "SIGKILL") == 9)
        #expect(SignalName.number(of: "SIG64") == 64)
        #expect(SignalName.number(of: "SIGNOPE") == nil)
        #expect(HostCrash(signal: "SIGABRT", exitCode: nil).signalNumber == 6)
    }
}
