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
