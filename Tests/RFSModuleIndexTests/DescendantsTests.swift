import Foundation
import RFSTestSupport
import Testing

@testable import RFSModuleIndex

/// `descendants(of:limits:)`: what travels with a package's `fetch_module` reply when the worker
/// offers prefetching. Every spec must be exactly what `lookup` answers for its name, so that a
/// prefetched import is indistinguishable from one asked for on its own.
@Suite("Descendants (prefetch)")
struct DescendantsTests {
    static let tree: [String: String] = [
        "pkg/__init__.py": "from . import a\n",
        "pkg/a.py": "A = 1\n",
        "pkg/z.py": "Z = 1\n",
        "pkg/sub/__init__.py": "",
        "pkg/sub/b.py": "B = 1\n",
        "pkg/sub/deeper/__init__.py": "",
        "pkg/sub/deeper/d.py": "D = 1\n",
        "pkg/ns/c.py": "C = 1\n",
        "other.py": "",
    ]

    @Test("nearest first, by name within a level, each spec equal to lookup's")
    func nearestFirst() throws {
        let tree = try TemporaryTree(Self.tree)
        let index = try ModuleIndex(root: tree.root)
        let specs = index.descendants(of: "pkg", limits: .default)
        #expect(specs.map(\.name) == [
            "pkg.a", "pkg.ns", "pkg.sub", "pkg.z", "pkg.ns.c", "pkg.sub.b", "pkg.sub.deeper", "pkg.sub.deeper.d",
        ])
        for spec in specs {
            #expect(try index.lookup(spec.name) == spec)
        }
        #expect(specs.first { $0.name == "pkg.ns" }?.kind == .namespace)
        #expect(specs.first { $0.name == "pkg.sub" }?.submoduleSearchLocations == [tree.path("pkg/sub")])
    }

    @Test("a subpackage or a namespace package has its own descendants")
    func subpackages() throws {
        let tree = try TemporaryTree(Self.tree)
        let index = try ModuleIndex(root: tree.root)
        #expect(index.descendants(of: "pkg.sub", limits: .default).map(\.name) == [
            "pkg.sub.b", "pkg.sub.deeper", "pkg.sub.deeper.d",
        ])
        #expect(index.descendants(of: "pkg.ns", limits: .default).map(\.name) == ["pkg.ns.c"])
    }

    @Test("modules, unknown names, invalid names and disabled limits have none")
    func none() throws {
        let tree = try TemporaryTree(Self.tree)
        let index = try ModuleIndex(root: tree.root)
        #expect(index.descendants(of: "pkg.a", limits: .default).isEmpty)
        #expect(index.descendants(of: "other", limits: .default).isEmpty)
        #expect(index.descendants(of: "missing", limits: .default).isEmpty)
        #expect(index.descendants(of: "pkg/../pkg", limits: .default).isEmpty)
        #expect(index.descendants(of: "pkg", limits: PrefetchLimits(maxModules: 0, maxBytes: 0)).isEmpty)
    }

    @Test("the module limit and the byte limit cut the deepest modules off")
    func limits() throws {
        let tree = try TemporaryTree(Self.tree)
        let index = try ModuleIndex(root: tree.root)
        let two = index.descendants(of: "pkg", limits: PrefetchLimits(maxModules: 2, maxBytes: 1 << 20))
        #expect(two.map(\.name) == ["pkg.a", "pkg.ns"])
        // "A = 1\n" is 6 bytes, the namespace and the empty `__init__.py` none, "Z = 1\n" 6 more.
        let twelve = index.descendants(of: "pkg", limits: PrefetchLimits(maxModules: 100, maxBytes: 12))
        #expect(twelve.map(\.name) == ["pkg.a", "pkg.ns", "pkg.sub", "pkg.z"])
        let eleven = index.descendants(of: "pkg", limits: PrefetchLimits(maxModules: 100, maxBytes: 11))
        #expect(eleven.map(\.name) == ["pkg.a", "pkg.ns", "pkg.sub"])
    }

    @Test("an undecodable module is left out; lookup still reports it")
    func undecodable() throws {
        let tree = try TemporaryTree(["pkg/__init__.py": "", "pkg/good.py": "G = 1\n"])
        try tree.write("pkg/bad.py", bytes: Array("x = '".utf8) + [0xFF, 0xFE] + Array("'\n".utf8))
        let index = try ModuleIndex(root: tree.root)
        #expect(index.descendants(of: "pkg", limits: .default).map(\.name) == ["pkg.good"])
        #expect(throws: ModuleIndexError.self) { try index.lookup("pkg.bad") }
    }

    @Test("skip rules, excludes and symlinks leaving the root apply as to lookup")
    func confinement() throws {
        let tree = try TemporaryTree([
            "pkg/__init__.py": "", "pkg/kept.py": "", "pkg/tests/t.py": "", "pkg/__pycache__/x.py": "",
            "pkg/.hidden.py": "",
        ])
        try tree.writeOutside("secret/s.py", "SECRET = 1\n")
        try tree.writeOutside("leak.py", "SECRET = 2\n")
        try tree.symlink("pkg/secret", to: tree.outside + "/secret")
        try tree.symlink("pkg/leak.py", to: tree.outside + "/leak.py")
        let index = try ModuleIndex(root: tree.root, excludes: ["tests"])
        let specs = index.descendants(of: "pkg", limits: .default)
        #expect(specs.map(\.name) == ["pkg.kept"])
        #expect(!specs.contains { $0.source?.contains("SECRET") == true })
    }

    @Test("a symlink back to an enclosing package is a cycle, not more modules")
    func cycle() throws {
        let tree = try TemporaryTree(["pkg/__init__.py": "", "pkg/sub/__init__.py": "", "pkg/sub/a.py": ""])
        try tree.symlink("pkg/sub/loop", to: tree.path("pkg"))
        let index = try ModuleIndex(root: tree.root)
        #expect(index.descendants(of: "pkg", limits: .default).map(\.name) == ["pkg.sub", "pkg.sub.a"])
        #expect(try index.lookup("pkg.sub.loop") == nil)
    }

    @Test("the tree is read now: a module added or edited after the package was cached is seen")
    func freshness() throws {
        let tree = try TemporaryTree(["pkg/__init__.py": "", "pkg/a.py": "A = 1\n"])
        let index = try ModuleIndex(root: tree.root)
        #expect(index.descendants(of: "pkg", limits: .default).map(\.source) == ["A = 1\n"])
        try tree.write("pkg/a.py", "A = 2\n")
        try tree.write("pkg/new/deep.py", "N = 1\n")
        let specs = index.descendants(of: "pkg", limits: .default)
        #expect(specs.map(\.name) == ["pkg.a", "pkg.new", "pkg.new.deep"])
        #expect(specs.first?.source == "A = 2\n")
    }
}
