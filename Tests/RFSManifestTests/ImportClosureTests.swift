import RFSManifest
import RFSWire
import Testing

@Suite("Import closure")
struct ImportClosureTests {
    /// A manifest from `files` (one source root) and a reader serving their text.
    static func make(_ files: [String: String], roots extra: [[String: String]] = []) -> (ImportClosure, [String], (Int) -> [UInt8]?) {
        var contents: [String] = []
        var paths: [String] = []
        var manifestRoots: [TreeManifest.Root] = []
        for (number, root) in ([files] + extra).enumerated() {
            let sorted = root.keys.sorted { $0.unicodeScalars.lexicographicallyPrecedes($1.unicodeScalars) }
            manifestRoots.append(
                TreeManifest.Root(
                    path: "/r\(number)", kind: .source,
                    files: sorted.map { TreeManifest.File(path: $0, size: Int64(root[$0]!.utf8.count), sha256: SHA256.hex(of: Array(root[$0]!.utf8))) }))
            for path in sorted {
                paths.append("\(number):\(path)")
                contents.append(root[path]!)
            }
        }
        let closure = ImportClosure(manifest: TreeManifest(snapshot: "s", roots: manifestRoots))
        return (closure, paths, { Array(contents[$0].utf8) })
    }

    @Test("depth first, pre-order, parents first, data files of packages, cycles terminate")
    func order() {
        let (closure, paths, read) = Self.make([
            "app.py": "import lib.b\nfrom pkg import sub, CONST\nimport os\n",
            "lib/__init__.py": "from . import a\n",
            "lib/a.py": "import app\n",
            "lib/b.py": "",
            "lib/unused.py": "",
            "pkg/__init__.py": "",
            "pkg/sub.py": "from .sub2 import x\n",
            "pkg/sub2.py": "",
            "pkg/table.json": "{}",
            "pkg/res/icon.txt": "i",
            "pkg/inner/__init__.py": "",
            "pkg/inner/hidden.txt": "not pkg's",
            "pkg/my-script.py": "",
        ])
        let order = closure.closure(of: ["app"], read: read).map { paths[$0] }
        #expect(
            order == [
                "0:app.py", "0:lib/__init__.py", "0:lib/a.py", "0:lib/b.py",
                "0:pkg/__init__.py", "0:pkg/my-script.py", "0:pkg/res/icon.txt", "0:pkg/table.json",
                "0:pkg/sub.py", "0:pkg/sub2.py",
            ])
    }

    @Test("FileFinder precedence: package over module over namespace, across roots in order")
    func precedence() {
        let (closure, paths, read) = Self.make(
            ["a.py": "", "a/__init__.py": "", "n/x.py": "", "m.py": ""],
            roots: [["n.py": "", "m/__init__.py": "", "z/q.py": ""]])
        #expect(closure.closure(of: ["a"], read: read).map { paths[$0] } == ["0:a/__init__.py"])
        #expect(closure.closure(of: ["m"], read: read).map { paths[$0] } == ["0:m.py"])
        // A later root's module wins over an earlier namespace directory.
        #expect(closure.closure(of: ["n"], read: read).map { paths[$0] } == ["1:n.py"])
        #expect(closure.closure(of: ["z.q"], read: read).map { paths[$0] } == ["1:z/q.py"])
        #expect(closure.moduleName(ofEntry: paths.firstIndex(of: "0:a/__init__.py")!) == "a")
    }

    @Test("stops when the visitor says so")
    func stops() {
        let (closure, _, read) = Self.make(["a.py": "import b\nimport c\n", "b.py": "", "c.py": ""])
        var seen: [Int] = []
        closure.closure(of: ["a"], read: read) { seen.append($0); return seen.count < 2 }
        #expect(seen.count == 2)
    }
}
