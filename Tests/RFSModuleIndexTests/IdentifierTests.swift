import RFSTestSupport
import Testing

@testable import RFSModuleIndex

/// Python's `str.isidentifier`: XID_Start or `_`, then XID_Continue.
@Suite("Identifiers")
struct IdentifierTests {
    @Test("identifiers", arguments: [
        "a", "_", "__init__", "_a1", "A_b_C", "café", "Ωmega", "名前", "ñ", "class", "a\u{0301}", "x·y",
    ])
    func identifiers(name: String) {
        #expect(PythonIdentifier.isValid(name))
    }

    @Test("not identifiers", arguments: [
        "", "1abc", "my-mod", "a b", "a.b", "..", "/", "a/b", "\u{0301}a", "·x", "a\u{0}", "x$", "€", "a\u{200B}",
    ])
    func notIdentifiers(name: String) {
        #expect(!PythonIdentifier.isValid(name))
    }

    @Test("non-ASCII identifier files and directories are served; non-identifiers are not")
    func unicodeNames() throws {
        let tree = try TemporaryTree([
            "café.py": "NAME = 'café'\n", "ünïcode/__init__.py": "", "ünïcode/mödule.py": "",
            "my-mod.py": "", "1abc/__init__.py": "", "a b.py": "", "€uro.py": "",
        ])
        let index = try ModuleIndex(root: tree.root)
        #expect(try index.entries().map(\.name) == ["café", "ünïcode", "ünïcode.mödule"])
        #expect(try index.lookup("café")?.source == "NAME = 'café'\n")
        #expect(try index.lookup("ünïcode.mödule")?.origin == tree.path("ünïcode/mödule.py"))
    }
}

/// A requested name is only ever matched against listings, so path syntax in it finds nothing.
@Suite("Requested names")
struct RequestedNameTests {
    @Test(
        "names that are not dotted identifiers are simply not found",
        arguments: [
            "", ".", "..", "...", "a..b", ".a", "a.", "a/b", "../outside", "../../etc/passwd", "/etc/passwd",
            "a/../a", "./a", "a\u{0}", " a", "a ", "a.b/c", "a\\b", "*", "a*", "~",
        ])
    func malformedNames(name: String) throws {
        let tree = try TemporaryTree(["a.py": "", "a/__init__.py": "", "a/b.py": ""])
        try tree.writeOutside("outside.py", "SECRET = 1\n")
        let index = try ModuleIndex(root: tree.root)
        #expect(try index.lookup(name) == nil)
    }

    @Test("name splitting rejects empty and non-identifier components")
    func components() {
        #expect(ModuleName.components(of: "a.b.c")?.map(String.init) == ["a", "b", "c"])
        #expect(ModuleName.components(of: "a..b") == nil)
        #expect(ModuleName.components(of: "") == nil)
        #expect(ModuleName.components(of: "a.") == nil)
        #expect(ModuleName.components(of: "a.1") == nil)
    }

    @Test("modules outside the folder, stdlib names and unknown names are not found")
    func unknownNames() throws {
        let tree = try TemporaryTree(["a.py": ""])
        let index = try ModuleIndex(root: tree.root)
        for name in ["os", "os.path", "b", "a.b", "outside"] {
            #expect(try index.lookup(name) == nil, "\(name)")
        }
    }
}
