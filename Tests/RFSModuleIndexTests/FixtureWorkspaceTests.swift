import Testing

@testable import RFSModuleIndex

/// `fixtures/workspace` is what every later suite imports through; these tests pin exactly what
/// it serves so a fixture change cannot silently change other engineers' tests.
@Suite("fixtures/workspace")
struct FixtureWorkspaceTests {
    static let expected: [ModuleEntry] = [
        ModuleEntry(name: "bad_syntax", kind: .module, path: "bad_syntax.py"),
        ModuleEntry(name: "café", kind: .module, path: "café.py"),
        ModuleEntry(name: "latin1_mod", kind: .module, path: "latin1_mod.py"),
        ModuleEntry(name: "mod_over_ns", kind: .module, path: "mod_over_ns.py"),
        ModuleEntry(name: "ns_pkg", kind: .namespace, path: "ns_pkg"),
        ModuleEntry(name: "ns_pkg.inner", kind: .namespace, path: "ns_pkg/inner"),
        ModuleEntry(name: "ns_pkg.inner.mod", kind: .module, path: "ns_pkg/inner/mod.py"),
        ModuleEntry(name: "ns_pkg.part", kind: .module, path: "ns_pkg/part.py"),
        ModuleEntry(name: "pkg_absolute", kind: .package, path: "pkg_absolute/__init__.py"),
        ModuleEntry(name: "pkg_absolute.core", kind: .module, path: "pkg_absolute/core.py"),
        ModuleEntry(name: "pkg_absolute.nested", kind: .package, path: "pkg_absolute/nested/__init__.py"),
        ModuleEntry(
            name: "pkg_absolute.nested.inner", kind: .package, path: "pkg_absolute/nested/inner/__init__.py"),
        ModuleEntry(name: "pkg_absolute.nested.inner.mod", kind: .module, path: "pkg_absolute/nested/inner/mod.py"),
        ModuleEntry(name: "pkg_data", kind: .package, path: "pkg_data/__init__.py"),
        ModuleEntry(name: "pkg_relative", kind: .package, path: "pkg_relative/__init__.py"),
        ModuleEntry(name: "pkg_relative.helpers", kind: .module, path: "pkg_relative/helpers.py"),
        ModuleEntry(name: "pkg_relative.sub", kind: .package, path: "pkg_relative/sub/__init__.py"),
        ModuleEntry(name: "pkg_relative.sub.deeper", kind: .package, path: "pkg_relative/sub/deeper/__init__.py"),
        ModuleEntry(name: "pkg_relative.sub.deeper.bottom", kind: .module, path: "pkg_relative/sub/deeper/bottom.py"),
        ModuleEntry(name: "pkg_relative.sub.leaf", kind: .module, path: "pkg_relative/sub/leaf.py"),
        ModuleEntry(name: "raises_on_import", kind: .module, path: "raises_on_import.py"),
        ModuleEntry(name: "shadowed", kind: .package, path: "shadowed/__init__.py"),
        ModuleEntry(name: "shared_name", kind: .package, path: "shared_name/__init__.py"),
        ModuleEntry(name: "toplevel_mod", kind: .module, path: "toplevel_mod.py"),
    ]

    @Test("lists exactly the importable fixtures, sorted by name")
    func listsExactlyTheImportableFixtures() throws {
        let index = try ModuleIndex(root: Fixtures.workspace)
        #expect(try index.entries() == Self.expected)
    }

    @Test("top-level names are the root's children only")
    func topLevelNames() throws {
        let index = try ModuleIndex(root: Fixtures.workspace)
        #expect(
            try index.topLevelNames() == [
                "bad_syntax", "café", "latin1_mod", "mod_over_ns", "ns_pkg", "pkg_absolute", "pkg_data",
                "pkg_relative", "raises_on_import", "shadowed", "shared_name", "toplevel_mod",
            ])
        #expect(try index.entries(topLevelOnly: true).map(\.name) == index.topLevelNames())
    }

    @Test("every listed entry can be looked up, with a matching spec")
    func everyEntryResolves() throws {
        let index = try ModuleIndex(root: Fixtures.workspace)
        for entry in Self.expected {
            let spec = try #require(try index.lookup(entry.name), "\(entry.name)")
            #expect(spec.kind == entry.kind, "\(entry.name)")
            if entry.kind == .namespace {
                #expect(spec.submoduleSearchLocations == [index.rootPath + "/" + entry.path])
            } else {
                #expect(spec.origin == index.rootPath + "/" + entry.path)
            }
        }
    }

    @Test("skipped and non-importable fixtures are not found", arguments: [
        "venv", "venv.lib", "venv.lib.site", "node_modules", "node_modules.x", "stub_only", "my-mod", "1abc",
        "hidden", ".hidden", "__pycache__", "thing", "fast", "not_a_namespace", "mod_over_ns.hidden_by_module",
        "pkg_data.data", "shadowed.WHICH",
    ])
    func skippedFixturesAreNotFound(name: String) throws {
        let index = try ModuleIndex(root: Fixtures.workspace)
        #expect(try index.lookup(name) == nil)
    }

    @Test("the package shadows the module of the same name")
    func packageShadowsModule() throws {
        let spec = try #require(try ModuleIndex(root: Fixtures.workspace).lookup("shadowed"))
        #expect(spec.isPackage)
        #expect(spec.source?.contains(#"WHICH = "package""#) == true)
    }

    @Test("the latin-1 fixture decodes to text containing café")
    func latin1FixtureDecodes() throws {
        let spec = try #require(try ModuleIndex(root: Fixtures.workspace).lookup("latin1_mod"))
        let source = try #require(spec.source)
        #expect(source.hasPrefix("# -*- coding: latin-1 -*-\n"))
        #expect(source.contains(#"GREETING = "café""#))
    }

    @Test("workspace_b serves a package of the same name with different contents")
    func workspaceBHasTheSameNameWithOtherContents() throws {
        let a = try #require(try ModuleIndex(root: Fixtures.workspace).lookup("shared_name"))
        let b = try #require(try ModuleIndex(root: Fixtures.workspaceB).lookup("shared_name"))
        #expect(a.source?.contains(#"WHO = "a""#) == true)
        #expect(b.source?.contains(#"WHO = "b""#) == true)
        #expect(try ModuleIndex(root: Fixtures.workspaceB).entries().map(\.name) == ["shared_name"])
    }
}
