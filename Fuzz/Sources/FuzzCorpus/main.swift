import Glibc

// Writes the seed corpus of each fuzz target into DIRECTORY/<target>/ (json, jsonrpc,
// websocket). `scripts/fuzz --write-corpus` runs it into Fuzz/corpus; the files are committed.
let arguments = CommandLine.arguments
guard arguments.count == 2 else { die("usage: fuzz-corpus DIRECTORY") }
let root = arguments[1]
let messages = ProtocolMessages.all

/// JSON texts that are not messages but exercise the grammar's corners.
let jsonOnly: [(String, String)] = [
    ("numbers", #"[0,-0,1.5e-7,-1E+2,9223372036854775807,-9223372036854775808,9223372036854775808,1e400,0.1]"#),
    ("strings", #"["\"\\\/\b\f\n\r\t","\u0000\u001f","\ud83d\ude00","é☕",""]"#),
    ("nesting", "[[[[{\"a\":[{\"b\":{}}]}]]]]"),
    ("literals", " \t\r\n[true,false,null] \n"),
]

func die(_ message: String) -> Never {
    var line = message + "\n"
    line.withUTF8 { _ = Glibc.write(2, $0.baseAddress, $0.count) }
    exit(1)
}

func writeFile(_ bytes: [UInt8], to path: String) {
    guard let file = fopen(path, "wb") else { die("fuzz-corpus: cannot create \(path): \(String(cString: strerror(errno)))") }
    defer { fclose(file) }
    guard fwrite(bytes, 1, bytes.count, file) == bytes.count else { die("fuzz-corpus: cannot write \(path)") }
}

func makeDirectory(_ path: String) {
    if mkdir(path, 0o755) != 0 && errno != EEXIST {
        die("fuzz-corpus: cannot create \(path): \(String(cString: strerror(errno)))")
    }
}

makeDirectory(root)
for target in ["json", "jsonrpc", "websocket"] { makeDirectory("\(root)/\(target)") }
for (name, text) in messages {
    writeFile(Array(text.utf8), to: "\(root)/jsonrpc/\(name).json")
    writeFile(Array(text.utf8), to: "\(root)/json/\(name).json")
}
for (name, text) in jsonOnly {
    writeFile(Array(text.utf8), to: "\(root)/json/\(name).json")
}
for (name, bytes) in WebSocketSeeds.all(messages: messages) {
    writeFile(bytes, to: "\(root)/websocket/\(name).bin")
}
print("fuzz-corpus: wrote \(messages.count * 2 + jsonOnly.count) JSON seeds and the WebSocket seeds to \(root)")
