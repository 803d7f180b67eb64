/// Serializes JSON-RPC messages as compact text with members in the order the spec's examples
/// use: `{"jsonrpc":"2.0","method":…,"params":…,"id":…}` for calls and
/// `{"jsonrpc":"2.0","result":…,"id":…}` / `{"jsonrpc":"2.0","error":{"code":…,"message":…,"data":…},"id":…}`
/// for replies. Parameters, results and error data are written with sorted keys.
///
/// A fixed order is not required by JSON, but it makes our traffic byte-comparable with the
/// spec and with captured transcripts, and puts the method name first for anyone reading logs.
public enum JSONRPCEncoder {
    public static func encode(_ message: JSONRPCMessage) -> String {
        var writer = JSONWriter()
        write(message, to: &writer)
        return writer.makeString()
    }

    public static func encode(_ request: JSONRPCRequest) -> String {
        encode(.request(request))
    }

    public static func encode(_ notification: JSONRPCNotification) -> String {
        encode(.notification(notification))
    }

    public static func encode(_ response: JSONRPCResponse) -> String {
        encode(.response(response))
    }

    /// `response` as text, or `nil` when the text would be longer than `limit` bytes. Stops
    /// writing as soon as that is certain, so an oversized reply costs at most `limit` bytes
    /// (plus one small value) rather than its full size.
    public static func encode(_ response: JSONRPCResponse, limit: Int) -> String? {
        var writer = JSONWriter()
        writer.limit = limit
        write(.response(response), to: &writer)
        return writer.exceeded ? nil : writer.makeString()
    }

    /// A batch: a JSON array of messages, in the given order. (An empty batch is invalid
    /// JSON-RPC; callers must not send one.)
    public static func encodeBatch(_ messages: [JSONRPCMessage]) -> String {
        var writer = JSONWriter()
        writer.writeRaw("[")
        for (position, message) in messages.enumerated() {
            if position > 0 { writer.writeRaw(",") }
            write(message, to: &writer)
        }
        writer.writeRaw("]")
        return writer.makeString()
    }

    /// Joins messages that were already encoded one by one into a batch array.
    static func joinBatch(_ encodedMessages: [String]) -> String {
        var writer = JSONWriter(capacity: encodedMessages.reduce(2) { $0 + $1.utf8.count + 1 })
        writer.writeRaw("[")
        for (position, text) in encodedMessages.enumerated() {
            if position > 0 { writer.writeRaw(",") }
            writer.writeSerialized(text)
        }
        writer.writeRaw("]")
        return writer.makeString()
    }

    private static func write(_ message: JSONRPCMessage, to writer: inout JSONWriter) {
        writer.writeRaw(#"{"jsonrpc":"2.0","#)
        switch message {
        case .request(let request):
            writeCall(method: request.method, params: request.params, to: &writer)
            writer.writeRaw(#","id":"#)
            writer.write(request.id.jsonValue)
        case .notification(let notification):
            writeCall(method: notification.method, params: notification.params, to: &writer)
        case .response(let response):
            switch response.outcome {
            case .success(let result):
                writer.writeRaw(#""result":"#)
                writer.write(result)
            case .failure(let error):
                writer.writeRaw(#""error":{"code":"#)
                writer.write(Int64(error.code))
                writer.writeRaw(#","message":"#)
                writer.write(error.message)
                if let data = error.data {
                    writer.writeRaw(#","data":"#)
                    writer.write(data)
                }
                writer.writeRaw("}")
            }
            writer.writeRaw(#","id":"#)
            writer.write(response.id?.jsonValue ?? .null)
        }
        writer.writeRaw("}")
    }

    private static func writeCall(method: String, params: JSONValue?, to writer: inout JSONWriter) {
        writer.writeRaw(#""method":"#)
        writer.write(method)
        if let params {
            writer.writeRaw(#","params":"#)
            writer.write(params)
        }
    }
}

extension JSONRPCMessage {
    /// This message as compact JSON text in the spec's member order.
    public func serialized() -> String { JSONRPCEncoder.encode(self) }
}

extension JSONRPCRequest {
    /// This request as compact JSON text in the spec's member order.
    public func serialized() -> String { JSONRPCEncoder.encode(self) }
}

extension JSONRPCNotification {
    /// This notification as compact JSON text in the spec's member order.
    public func serialized() -> String { JSONRPCEncoder.encode(self) }
}

extension JSONRPCResponse {
    /// This reply as compact JSON text in the spec's member order.
    public func serialized() -> String { JSONRPCEncoder.encode(self) }
}
