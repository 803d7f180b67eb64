// Compiled and run by scripts/bench-envelope (optimised, against RFSProtocol's public API).
import RFSProtocol

@main
struct BenchEnvelope {
    nonisolated static let runs = 15

    static func main() async throws {
        print("best / median of \(runs) runs, milliseconds")
        for style in [FetchReplyFixture.Style.typical, .escapeDense] {
            let text = FetchReplyFixture.reply(id: 1, style: style)
            let megabytes = Double(text.utf8.count) / 1_000_000
            print("\nfetch_module reply, \(style) sources: \(String(format2: megabytes)) MB (a package and 199 prefetched modules)")
            report("JSONValue.parse (the full parse)", try measure { _ = try JSONValue.parse(text) })
            report("JSONRPCDecoder.decode (parse and classify)", measure { _ = JSONRPCDecoder.decode(text) })
            report("JSONRPCEnvelope.scan (validate, locate)", try measure { _ = try JSONRPCEnvelope.scan(text) })
            try await benchPeer(text)
        }
    }

    /// Through a peer, from `receive` to the caller holding the reply. Nonisolated, so the
    /// outbox iterator stays in one isolation domain.
    nonisolated static func benchPeer(_ text: String) async throws {
        let pipe = InMemoryPipe()
        let peer = JSONRPCPeer(label: "bench") { try pipe.send($0) }
        var outbox = pipe.messages.makeAsyncIterator()
        var nextID: Int64 = 1
        /// Times one call of `call`: its request is sent, then the reply is received.
        func roundTrip(_ call: @escaping @Sendable () async throws -> Void) async throws -> Duration {
            let task = Task { try await call() }
            _ = await outbox.next()
            // The fixture's reply is `{"jsonrpc":"2.0","result":…,"id":1}`; only the id changes.
            let message = String(text.dropLast("1}".count)) + "\(nextID)}"
            nextID += 1
            let start = ContinuousClock.now
            await peer.receive(message)
            try await task.value
            return ContinuousClock.now - start
        }
        func measureCalls(_ call: @escaping @Sendable () async throws -> Void) async throws -> [Duration] {
            _ = try await roundTrip(call)  // warm-up
            var times: [Duration] = []
            for _ in 0..<runs { times.append(try await roundTrip(call)) }
            return times
        }
        let fetch: JSONValue = ["module_name": "pkg"]
        report("peer: request (reply parsed into values)", try await measureCalls { _ = try await peer.request("fetch_module", params: fetch) })
        report("peer: requestVerbatim (reply scanned)", try await measureCalls { _ = try await peer.requestVerbatim("fetch_module", params: fetch) })

        report("peer: small notification (µs), none pending", await perNotification(peer))

        // What others pay while a verbatim request is pending: an ordinary reply is scanned,
        // found to answer no verbatim request, then parsed as before.
        let pending = Task { try await peer.requestVerbatim("slow") }
        _ = await outbox.next()
        nextID += 1
        report("peer: request while a verbatim one is pending", try await measureCalls { _ = try await peer.request("fetch_module", params: fetch) })
        report("peer: small notification (µs), verbatim pending", await perNotification(peer))
        await peer.close(reason: "bench over")
        _ = try? await pending.value
    }

    /// Microseconds for `receive` to take in one `output` notification (averaged over 1,000).
    nonisolated static func perNotification(_ peer: JSONRPCPeer) async -> [Duration] {
        let small = #"{"jsonrpc":"2.0","method":"output","params":{"stream":"stdout","text":"hello\n"}}"#
        var times: [Duration] = []
        for _ in 0...runs {
            let start = ContinuousClock.now
            for _ in 0..<1_000 { await peer.receive(small) }
            times.append(ContinuousClock.now - start)  // per 1,000, so "milliseconds" read as µs each
        }
        return Array(times.dropFirst())
    }

    static func measure(_ body: () throws -> Void) rethrows -> [Duration] {
        let clock = ContinuousClock()
        try body()  // warm-up
        return try (0..<runs).map { _ in try clock.measure(body) }
    }

    nonisolated static func report(_ label: String, _ times: [Duration]) {
        let sorted = times.sorted()
        func ms(_ duration: Duration) -> String {
            let (seconds, attoseconds) = duration.components
            return String(format2: Double(seconds) * 1000 + Double(attoseconds) / 1e15)
        }
        let padded = label + String(repeating: " ", count: max(0, 52 - label.count))
        print("  \(padded) \(ms(sorted[0])) / \(ms(sorted[sorted.count / 2]))")
    }
}

extension String {
    /// Two decimals, without Foundation.
    init(format2 value: Double) {
        let hundredths = Int((value * 100).rounded())
        let fraction = abs(hundredths % 100)
        self = "\(hundredths / 100).\(fraction < 10 ? "0" : "")\(fraction)"
    }
}
