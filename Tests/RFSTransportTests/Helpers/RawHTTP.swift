import NIOCore
import NIOPosix

/// A parsed HTTP/1.1 response read off a raw socket.
struct RawHTTPResponse {
    var status: Int
    var headers: [(name: String, value: String)]
    var body: String
    var raw: String

    func header(_ name: String) -> String? {
        self.headers.first { $0.name.lowercased() == name.lowercased() }?.value
    }
}

/// Sends hand-made bytes over plain TCP and returns everything the server sends until it closes
/// the connection, so tests can check exactly what goes over the wire (status lines, headers)
/// and send requests no well-behaved client would.
enum RawHTTP {
    static func exchange(port: Int, request: String, then trailingBytes: [UInt8] = []) async throws -> String {
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connect(host: "127.0.0.1", port: port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel)
                }
            }
        return try await channel.executeThenClose { inbound, outbound in
            var bytes = ByteBuffer(string: request)
            bytes.writeBytes(trailingBytes)
            if bytes.readableBytes > 0 {
                try await outbound.write(bytes)
            }
            var response = ByteBuffer()
            for try await var chunk in inbound {
                response.writeBuffer(&chunk)
            }
            return String(buffer: response)
        }
    }

    /// Sends `GET path` (plus extra header lines) and parses the response.
    static func get(port: Int, path: String, headers: [String] = [], method: String = "GET") async throws
        -> RawHTTPResponse
    {
        var request = "\(method) \(path) HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\n"
        for header in headers {
            request += header + "\r\n"
        }
        request += "\r\n"
        return try self.parse(try await self.exchange(port: port, request: request))
    }

    static func parse(_ raw: String) throws -> RawHTTPResponse {
        guard let split = raw.firstRange(of: "\r\n\r\n") else {
            throw TestFailure("incomplete HTTP response: \(raw.debugDescription)")
        }
        let lines = raw[..<split.lowerBound].split(separator: "\r\n", omittingEmptySubsequences: false)
        let statusParts = lines.first?.split(separator: " ") ?? []
        guard statusParts.count >= 2, let status = Int(statusParts[1]) else {
            throw TestFailure("bad status line in \(raw.debugDescription)")
        }
        let headers = lines.dropFirst().compactMap { line -> (name: String, value: String)? in
            guard let colon = line.firstIndex(of: ":") else { return nil }
            let value = line[line.index(after: colon)...].drop(while: { $0 == " " })
            return (String(line[..<colon]), String(value))
        }
        return RawHTTPResponse(status: status, headers: headers, body: String(raw[split.upperBound...]), raw: raw)
    }
}
