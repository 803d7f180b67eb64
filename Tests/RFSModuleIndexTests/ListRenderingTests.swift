import Foundation
import Testing

@testable import RFSModuleIndex

@Suite("rfs list output")
struct ListRenderingTests {
    static let sample = [
        ModuleEntry(name: "ns", kind: .namespace, path: "ns"),
        ModuleEntry(name: "ns.m", kind: .module, path: "ns/m.py"),
        ModuleEntry(name: "pkg", kind: .package, path: "pkg/__init__.py"),
    ]

    @Test("JSON: an array with one compact object per line, keys in order name, kind, path")
    func json() {
        #expect(
            ModuleListRendering.json(Self.sample) == """
                [
                {"name":"ns","kind":"namespace","path":"ns"},
                {"name":"ns.m","kind":"module","path":"ns/m.py"},
                {"name":"pkg","kind":"package","path":"pkg/__init__.py"}
                ]

                """)
        #expect(ModuleListRendering.json([]) == "[]\n")
    }

    @Test("JSON output parses back to the same entries")
    func jsonRoundTrip() throws {
        let entries = Self.sample + [ModuleEntry(name: "café", kind: .module, path: "we\"ird\\\n.py")]
        let decoded = try JSONDecoder().decode(
            [ModuleEntry].self, from: Data(ModuleListRendering.json(entries).utf8))
        #expect(decoded == entries)
    }

    @Test("JSON: streamed in chunks of any size, the bytes are the same; control characters are escaped")
    func jsonChunks() {
        let entries = Self.sample + [
            ModuleEntry(name: "café", kind: .module, path: "we\"ird\\\n\u{1}\t\r.py"),
            ModuleEntry(name: String(repeating: "long_name.", count: 500) + "end", kind: .package, path: "p/__init__.py"),
        ]
        let whole = ModuleListRendering.jsonBytes(entries)
        #expect(String(decoding: whole, as: UTF8.self).contains(#"{"name":"café","kind":"module","path":"we\"ird\\\n\u0001\t\r.py"}"#))
        for chunkSize in [1, 7, 64, 1000, 64 * 1024] {
            var streamed: [UInt8] = []
            var largestChunk = 0
            ModuleListRendering.writeJSON(entries, chunkSize: chunkSize) { chunk in
                streamed.append(contentsOf: chunk)
                largestChunk = max(largestChunk, chunk.count)
            }
            #expect(streamed == whole, "chunk size \(chunkSize)")
            #expect(largestChunk > 0)
        }
    }

    @Test("table: aligned columns, then a summary line")
    func table() {
        #expect(
            ModuleListRendering.table(Self.sample, root: "/src") == """
                NAME  KIND       PATH
                ns    namespace  ns
                ns.m  module     ns/m.py
                pkg   package    pkg/__init__.py
                3 modules (1 package, 1 namespace, 1 module) in /src

                """)
        #expect(
            ModuleListRendering.table([], root: "/src")
                == "0 modules (0 packages, 0 namespaces, 0 modules) in /src\n")
    }
}
