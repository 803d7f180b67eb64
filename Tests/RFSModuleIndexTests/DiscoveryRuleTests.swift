import RFSTestSupport
import Testing

@testable import RFSModuleIndex

/// DESIGN.md §4: what counts as a module, a package and a namespace package, and who wins when
/// several share a name.
@Suite("What is served")
struct DiscoveryRuleTests {
    @Test("NAME.py is a module whose spec carries its source")
    func moduleFile() throws {
        let tree = try TemporaryTree(["mod.py": "def f():\n    return 1\n"])
        let index = try ModuleIndex(root: tree.root)
        #expect(try index.entries() == [ModuleEntry(name: "mod", kind: .module, path: "mod.py")])
        let spec = try #require(try index.lookup("mod"))
        #expect(
            spec
                == ModuleSpec(
                    name: "mod", origin: tree.path("mod.py"), isPackage: false, submoduleSearchLocations: nil,
                    source: "def f():\n    return 1\n"))
    }

    @Test("a directory with __init__.py is a regular package, and its .py files are submodules")
    func regularPackage() throws {
        let tree = try TemporaryTree(["pkg/__init__.py": "X = 1\n", "pkg/sub.py": "Y = 2\n"])
        let index = try ModuleIndex(root: tree.root)
        #expect(
            try index.entries() == [
                ModuleEntry(name: "pkg", kind: .package, path: "pkg/__init__.py"),
                ModuleEntry(name: "pkg.sub", kind: .module, path: "pkg/sub.py"),
            ])
        #expect(
            try index.lookup("pkg")
                == ModuleSpec(
                    name: "pkg", origin: tree.path("pkg/__init__.py"), isPackage: true,
                    submoduleSearchLocations: [tree.path("pkg")], source: "X = 1\n"))
        #expect(try index.lookup("pkg.sub")?.origin == tree.path("pkg/sub.py"))
    }

    @Test("an empty __init__.py still makes a package with empty source")
    func emptyInit() throws {
        let tree = try TemporaryTree(["pkg/__init__.py": ""])
        let spec = try #require(try ModuleIndex(root: tree.root).lookup("pkg"))
        #expect(spec.isPackage)
        #expect(spec.source == "")
    }

    @Test("a directory without __init__.py holding a .py file is a namespace package")
    func namespacePackage() throws {
        let tree = try TemporaryTree(["ns/part.py": "P = 1\n"])
        let index = try ModuleIndex(root: tree.root)
        #expect(
            try index.entries() == [
                ModuleEntry(name: "ns", kind: .namespace, path: "ns"),
                ModuleEntry(name: "ns.part", kind: .module, path: "ns/part.py"),
            ])
        #expect(
            try index.lookup("ns")
                == ModuleSpec(
                    name: "ns", origin: nil, isPackage: true, submoduleSearchLocations: [tree.path("ns")],
                    source: nil))
    }

    @Test("the .py file may be at any depth; every directory on the way is a namespace")
    func deepNamespace() throws {
        let tree = try TemporaryTree(["a/b/c/leaf.py": ""])
        let index = try ModuleIndex(root: tree.root)
        #expect(
            try index.entries().map(\.name) == ["a", "a.b", "a.b.c", "a.b.c.leaf"])
        #expect(try index.lookup("a.b")?.kind == .namespace)
    }

    @Test("a directory with no .py file at any depth is not served")
    func directoryWithoutPython() throws {
        let tree = try TemporaryTree(["docs/readme.txt": "", "docs/img/x.png": "", "data/stub.pyi": ""])
        let index = try ModuleIndex(root: tree.root)
        #expect(try index.entries().isEmpty)
        #expect(try index.lookup("docs") == nil)
        #expect(try index.lookup("data") == nil)
    }

    @Test("a .py file below a non-identifier directory still makes its ancestor a namespace")
    func namespaceThroughNonIdentifierDirectory() throws {
        // "holds a .py file at some depth" is literal: ns is importable (Python would import it
        // too), but nothing below it is, because my-scripts is not an identifier.
        let tree = try TemporaryTree(["ns/my-scripts/run.py": ""])
        let index = try ModuleIndex(root: tree.root)
        #expect(try index.entries() == [ModuleEntry(name: "ns", kind: .namespace, path: "ns")])
    }

    @Test("precedence: a regular package beats NAME.py")
    func packageBeatsModule() throws {
        let tree = try TemporaryTree(["x/__init__.py": "K = 'package'\n", "x/sub.py": "", "x.py": "K = 'module'\n"])
        let index = try ModuleIndex(root: tree.root)
        #expect(
            try index.entries() == [
                ModuleEntry(name: "x", kind: .package, path: "x/__init__.py"),
                ModuleEntry(name: "x.sub", kind: .module, path: "x/sub.py"),
            ])
        #expect(try index.lookup("x")?.source == "K = 'package'\n")
        #expect(try index.lookup("x.sub") != nil)
    }

    @Test("precedence: NAME.py beats a namespace directory, whose contents become unreachable")
    func moduleBeatsNamespace() throws {
        let tree = try TemporaryTree(["y/inner.py": "", "y.py": "K = 'module'\n"])
        let index = try ModuleIndex(root: tree.root)
        #expect(try index.entries() == [ModuleEntry(name: "y", kind: .module, path: "y.py")])
        #expect(try index.lookup("y")?.source == "K = 'module'\n")
        #expect(try index.lookup("y.inner") == nil)
    }

    @Test("precedence: a regular package beats a namespace, which beats nothing")
    func packageBeatsNamespace() throws {
        // One directory cannot be both; adding __init__.py turns the namespace into a package.
        let tree = try TemporaryTree(["z/inner.py": ""])
        let index = try ModuleIndex(root: tree.root)
        #expect(try index.lookup("z")?.kind == .namespace)
        try tree.write("z/__init__.py", "")
        #expect(try index.lookup("z")?.kind == .package)
        #expect(try index.entries().map(\.kind) == [.package, .module])
    }

    @Test("submodules follow the same rules inside packages")
    func submoduleRules() throws {
        let tree = try TemporaryTree([
            "p/__init__.py": "",
            "p/q/__init__.py": "",
            "p/r.py": "",
            "p/s/t.py": "",
            "p/dup.py": "K = 'module'\n",
            "p/dup/__init__.py": "K = 'package'\n",
            "p/my-mod.py": "",
            "p/1abc/__init__.py": "",
            "p/stub.pyi": "",
            "p/cached.pyc": "",
            "p/ext.cpython-311-x86_64-linux-gnu.so": "",
            "p/__main__.py": "",
        ])
        let index = try ModuleIndex(root: tree.root)
        #expect(
            try index.entries() == [
                ModuleEntry(name: "p", kind: .package, path: "p/__init__.py"),
                ModuleEntry(name: "p.__main__", kind: .module, path: "p/__main__.py"),
                ModuleEntry(name: "p.dup", kind: .package, path: "p/dup/__init__.py"),
                ModuleEntry(name: "p.q", kind: .package, path: "p/q/__init__.py"),
                ModuleEntry(name: "p.r", kind: .module, path: "p/r.py"),
                ModuleEntry(name: "p.s", kind: .namespace, path: "p/s"),
                ModuleEntry(name: "p.s.t", kind: .module, path: "p/s/t.py"),
            ])
        #expect(try index.lookup("p.dup")?.source == "K = 'package'\n")
        for name in ["p.my-mod", "p.1abc", "p.stub", "p.cached", "p.ext"] {
            #expect(try index.lookup(name) == nil, "\(name)")
        }
    }

    @Test("a plain module has no submodules")
    func moduleHasNoSubmodules() throws {
        let tree = try TemporaryTree(["m.py": "", "m/x.py": ""])
        #expect(try ModuleIndex(root: tree.root).lookup("m.x") == nil)
    }

    @Test("__init__ is the package itself, not a submodule named __init__")
    func initIsNotASubmodule() throws {
        let tree = try TemporaryTree(["p/__init__.py": "", "__init__.py": ""])
        let index = try ModuleIndex(root: tree.root)
        #expect(try index.entries().map(\.name) == ["p"])
        #expect(try index.lookup("p.__init__") == nil)
        #expect(try index.lookup("__init__") == nil)
    }

    @Test("entries are sorted by code point, with a package's submodules right after it")
    func sortOrder() throws {
        let tree = try TemporaryTree([
            "pkg/__init__.py": "", "pkg/z.py": "", "pkg/a.py": "", "pkg_a.py": "", "pkg2.py": "", "Pkg.py": "",
            "é.py": "", "_u.py": "",
        ])
        #expect(
            try ModuleIndex(root: tree.root).entries().map(\.name) == [
                "Pkg", "_u", "pkg", "pkg.a", "pkg.z", "pkg2", "pkg_a", "é",
            ])
    }
}
