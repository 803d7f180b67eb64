import RFSManifest
import Testing

@Suite("Import scanner")
struct ImportScannerTests {
    static func names(_ source: String, module: String = "m", isPackage: Bool = false) -> [String] {
        ImportScanner.candidates(of: ImportScanner.scan(Array(source.utf8)), module: module, isPackage: isPackage)
    }

    @Test(
        "finds the imports executed at import time",
        arguments: [
            ("import os", ["os"]),
            ("import a.b as c, d", ["a.b", "d"]),
            ("from x import y, z as w", ["x", "x.y", "x.z"]),
            ("from x import (\n    y,\n    z,\n)", ["x", "x.y", "x.z"]),
            ("from x import *", ["x"]),
            ("import a, \\\n    b", ["a", "b"]),
            ("def f():\n    import hidden\nimport after", ["after"]),
            ("async def f():\n    import hidden\n", []),
            ("class C:\n    import inclass\n    def m(self):\n        import no\n    import again", ["inclass", "again"]),
            ("if TYPE_CHECKING:\n    import typed\nelse:\n    import real", ["real"]),
            ("if typing.TYPE_CHECKING:\n    import typed\nimport b", ["b"]),
            ("try:\n    import ujson as json\nexcept ImportError:\n    import json", ["ujson", "json"]),
            ("with x:\n    import w\nfor i in y:\n    import f\nwhile z:\n    import wh", ["w", "f", "wh"]),
            ("s = 'import nope'\nt = \"\"\"\nimport nope\n\"\"\"\nimport yes", ["yes"]),
            ("x = rb'\\'' ; import yes  # import nope", ["yes"]),
            ("x = f'{a}' 'import no'\nimport yes", ["yes"]),
            ("if x: import inline; import two", ["inline", "two"]),
            ("def f(a: int = (1,\n  2)) -> None: import no\nimport yes", ["yes"]),
            ("@decorator\ndef f():\n    import no\nimport yes", ["yes"]),
            ("x = {\n 'a': 1,\n}\nimport yes", ["yes"]),
            ("print('import x')", []),
            ("lambda: 0\nimport yes", ["yes"]),
        ])
    func table(source: String, expected: [String]) {
        #expect(Self.names(source) == expected, "\(source)")
    }

    @Test("relative imports resolve against the module's package")
    func relative() {
        #expect(Self.names("from . import y", module: "a.b.c") == ["a.b", "a.b.y"])
        #expect(Self.names("from ..m import n", module: "a.b.c") == ["a.m", "a.m.n"])
        #expect(Self.names("from . import y", module: "a.b", isPackage: true) == ["a.b", "a.b.y"])
        #expect(Self.names("from .z import q", module: "a", isPackage: true) == ["a.z", "a.z.q"])
        // Beyond the top-level package: not importable, dropped.
        #expect(Self.names("from ... import y", module: "a.b") == [])
    }

    @Test("pathological input costs bounded work and output")
    func bounded() {
        let huge = String(repeating: "import a\n", count: 100_000)
        #expect(ImportScanner.scan(Array(huge.utf8)).count == ImportScanner.maxStatements)
        let unterminated = "'''" + String(repeating: "import x\n", count: 1000)
        #expect(Self.names(unterminated) == [])
        let deep = String(repeating: "(", count: 100_000)
        #expect(Self.names(deep + "\nimport z") == [])
    }
}
