import Foundation
import RFSProtocol

/// Removes the whitespace JSON ignores (outside strings), so the spec's pretty-printed texts can
/// be compared byte for byte with our compact output.
func compact(_ text: String) -> String {
    var output = ""
    var inString = false
    var escaped = false
    for character in text {
        if inString {
            output.append(character)
            if escaped {
                escaped = false
            } else if character == "\\" {
                escaped = true
            } else if character == "\"" {
                inString = false
            }
        } else if character == "\"" {
            inString = true
            output.append(character)
        } else if !character.isWhitespace {
            output.append(character)
        }
    }
    return output
}

/// Reads an async stream from several places of a test in turn, each read continuing where
/// the previous one stopped (an `AsyncStream` allows only one iterator).
actor StreamReader<Element: Sendable> {
    private var iterator: AsyncStream<Element>.Iterator

    init(_ stream: AsyncStream<Element>) {
        iterator = stream.makeAsyncIterator()
    }

    /// The next element (waits for it); `nil` once the stream has ended.
    func next() async -> Element? {
        // An actor's stored property cannot be mutated across a suspension, so the iterator
        // (a handle to the stream's shared storage) is copied out and back.
        var current = iterator
        defer { iterator = current }
        return await current.next(isolation: self)
    }

    /// Skips elements until one matches `predicate`.
    func first(where predicate: @Sendable (Element) -> Bool) async -> Element? {
        while let element = await next() {
            if predicate(element) { return element }
        }
        return nil
    }
}

/// A peer whose outbound messages the test reads directly, for exchanges written as wire text.
struct WirePeer {
    let peer: JSONRPCPeer
    let outbox: StreamReader<String>

    init(label: String = "peer-under-test", configuration: JSONRPCPeer.Configuration = .init()) {
        let pipe = InMemoryPipe()
        peer = JSONRPCPeer(label: label, configuration: configuration) { try pipe.send($0) }
        outbox = StreamReader(pipe.messages)
    }

    /// Feeds `text` to the peer and returns the next message it sends.
    func exchange(_ text: String) async -> String? {
        await peer.receive(text)
        return await outbox.next()
    }
}

/// Every message that went over a pair's pipes, with its sender; for asserting on the wire.
final class WireLog: Sendable {
    struct Entry: Sendable, Equatable {
        let sender: String
        let text: String
    }

    private let lock = NSLock()
    nonisolated(unsafe) private var entries: [Entry] = []
    private let stream: AsyncStream<Entry>
    private let continuation: AsyncStream<Entry>.Continuation
    private let reader: StreamReader<Entry>

    init() {
        (stream, continuation) = AsyncStream.makeStream(of: Entry.self)
        reader = StreamReader(stream)
    }

    /// For `JSONRPCPeer.makePair(observe:)`.
    var observer: @Sendable (String, String) -> Void {
        { [self] sender, text in
            lock.withLock { entries.append(Entry(sender: sender, text: text)) }
            continuation.yield(Entry(sender: sender, text: text))
        }
    }

    /// Everything sent so far.
    var all: [Entry] { lock.withLock { entries } }

    /// Waits until a message matching `predicate` is sent (or was sent since the last wait).
    func waitFor(_ predicate: @Sendable (Entry) -> Bool) async -> Entry? {
        await reader.first(where: predicate)
    }
}

/// A one-shot event tasks can wait for; used instead of sleeps to order steps of a test.
actor Signal {
    private var fired = false
    private var waiters: [CheckedContinuation<Void, Never>] = []

    func fire() {
        fired = true
        for waiter in waiters { waiter.resume() }
        waiters.removeAll()
    }

    func wait() async {
        if fired { return }
        await withCheckedContinuation { waiters.append($0) }
    }
}

/// Counts events and lets a test wait until a number of them happened.
actor Countdown {
    private var remaining: Int
    private var waiters: [CheckedContinuation<Void, Never>] = []

    init(_ count: Int) {
        remaining = count
    }

    func tick() {
        remaining -= 1
        if remaining <= 0 {
            for waiter in waiters { waiter.resume() }
            waiters.removeAll()
        }
    }

    func wait() async {
        if remaining <= 0 { return }
        await withCheckedContinuation { waiters.append($0) }
    }
}

/// Collects values in the order they were added.
actor Recorder<Value: Sendable> {
    private(set) var values: [Value] = []

    func append(_ value: Value) {
        values.append(value)
    }
}

/// A handler that never returns on its own: it reports that it started, waits until its task is
/// cancelled, reports that, and throws `CancellationError`.
func hangingHandler(started: Signal, cancelled: Signal) -> @Sendable (JSONRPCRequest) async throws -> JSONValue {
    { _ in
        await started.fire()
        do {
            try await suspendUntilCancelled()
        } catch {
            await cancelled.fire()
            throw error
        }
        return .null
    }
}
