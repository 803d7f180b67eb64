import Foundation
import RFSProtocol
import Testing

extension EndToEnd {
    /// Issue 10's batch floods against a real `rfs worker`: after a run sets an execution context
    /// of ten 100 KB names, every `request_plugin_info` answer is 1 MB. A 10,000-request batch
    /// took the worker to 23.5 GB (and the kernel killed it, with every session); a 58 KB one
    /// (1,000 requests) to 2.9 GB. Now the batches are refused whole, a batch at the size limit
    /// gets a reply within the message size, and the worker's peak stays under
    /// ``peakBound`` (measured: see the issue note).
    @Suite(.timeLimit(.minutes(3)))
    struct BatchFloodTests {
        /// The most resident memory the worker daemon may ever reach in this test. Its idle
        /// footprint is about 40 MB; one batch reply at the limit costs a few times 64 MiB.
        static let peakBound = 500 << 20

        static func pluginInfoBatch(_ count: Int) -> String {
            "[" + (0..<count).map { #"{"jsonrpc":"2.0","id":\#($0),"method":"request_plugin_info"}"# }.joined(separator: ",") + "]"
        }

        @Test("request_plugin_info floods: -32002 for the session, peak memory bounded, the worker serves others")
        func pluginInfoFlood() async throws {
            let worker = try await TestWorker.start()
            let flooder = try await RawClient(worker: worker)
            // Ten names of 110 KB: a batch of 64 answers is then over the 64 MiB message size.
            let names: [JSONValue] = (0..<10).map { .string(String(repeating: Character(UnicodeScalar(UInt8(97 + $0))), count: 110_000)) }
            let (context, _) = try await flooder.call(
                "run", params: ["code": "pass", "context": ["connection_id": "flood", "top_level_names": .array(names)]])
            #expect(context["result"] == ["status": "ok"])

            // 10,000 requests (589 KB) and the issue's 58 KB batch (1,000 requests): one error each.
            for count in [10_000, 1_000] {
                let batch = Self.pluginInfoBatch(count)
                try await flooder.send(batch)
                let reply = try #require(try await flooder.receive())
                #expect(reply["error"]?["code"] == -32002)
                #expect(reply["error"]?["message"] == .string("batch of \(count) requests exceeds the limit of 64 (max_batch_size)"))
                #expect(reply["id"] == .null)
            }

            // A batch at the limit: answered within the message size, the overflow as errors.
            try await flooder.send(Self.pluginInfoBatch(64))
            let text = try #require(try await flooder.receiveText())
            #expect(text.utf8.count <= 64 << 20)
            let overflow = text.components(separatedBy: #""code":-32002,"message":"reply to the batch exceeds the limit of 67108864 bytes (max_message_size)""#).count - 1
            let answered = text.components(separatedBy: #"{"jsonrpc":"2.0","result":{"full_names":"#).count - 1
            #expect(answered > 0)
            #expect(overflow > 0)
            #expect(answered + overflow == 64)

            let peak = try #require(Processes.peakResidentBytes(worker.pid))
            #expect(peak < Self.peakBound, "worker peak RSS \(peak >> 20) MB")
            #expect(Processes.isAlive(worker.pid))

            // The flooding session is still served, and so is another client.
            let (info, _) = try await flooder.call("request_plugin_info")
            #expect(info["result"]?["full_names"]?.arrayValue?.count == 10)
            let other = try await RawClient(worker: worker)
            let (run, output) = try await other.call("run", params: ["code": "print(6 * 7)"])
            #expect(run["result"] == ["status": "ok"])
            #expect(output == "42\n")
            await other.close()
            await flooder.close()
            _ = await worker.stop()
        }
    }
}
