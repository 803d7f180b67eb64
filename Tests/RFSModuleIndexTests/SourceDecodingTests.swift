import RFSTestSupport
import Testing

@testable import RFSModuleIndex

/// Source text is decoded as Python's import does (PEP 263): BOM, coding cookie on line 1 or 2,
/// UTF-8 otherwise. Failures are errors naming the file, never crashes.
@Suite("Source decoding (PEP 263)")
struct SourceDecodingTests {
    static let path = "/src/mod.py"

    func decode(_ bytes: [UInt8]) throws(ModuleIndexError) -> String {
        try SourceDecoder.decode(bytes, path: Self.path)
    }

    func bytes(_ text: String, latin1 tail: [UInt8] = [], _ rest: String = "") -> [UInt8] {
        Array(text.utf8) + tail + Array(rest.utf8)
    }

    @Test("UTF-8 is the default")
    func utf8Default() throws {
        #expect(try decode(Array("x = 'café ✓'\n".utf8)) == "x = 'café ✓'\n")
        #expect(try decode([]) == "")
    }

    @Test("a cookie on line 1 selects the encoding; the text keeps the cookie")
    func cookieOnLine1() throws {
        let source = bytes("# -*- coding: latin-1 -*-\nx = '", latin1: [0xE9], "'\n")
        #expect(try decode(source) == "# -*- coding: latin-1 -*-\nx = 'é'\n")
    }

    @Test("a cookie on line 2 counts after a shebang, comment or blank line")
    func cookieOnLine2() throws {
        for first in ["#!/usr/bin/env python3\n", "# a comment\n", "\n", "   \n", "\t# indented comment\n"] {
            let source = bytes(first + "# vim: set fileencoding=latin-1 :\nx = '", latin1: [0xE9], "'\n")
            #expect(try decode(source) == first + "# vim: set fileencoding=latin-1 :\nx = 'é'\n", "\(first)")
        }
    }

    @Test("a cookie on line 2 is ignored after a line of code")
    func cookieOnLine2AfterCode() throws {
        let source = bytes("x = 1\n# coding: latin-1\ny = '", latin1: [0xE9], "'\n")
        let error = #expect(throws: ModuleIndexError.self) { try decode(source) }
        #expect(error?.kind == .undecodableSource)
        #expect(error?.detail.contains("utf-8") == true)
    }

    @Test("a cookie on line 3 is ignored")
    func cookieOnLine3() throws {
        let source = bytes("#\n#\n# coding: latin-1\ny = '", latin1: [0xE9], "'\n")
        #expect(throws: ModuleIndexError.self) { try decode(source) }
    }

    @Test("a UTF-8 BOM selects UTF-8 and is dropped from the text")
    func bom() throws {
        #expect(try decode([0xEF, 0xBB, 0xBF] + Array("x = 'é'\n".utf8)) == "x = 'é'\n")
        #expect(
            try decode([0xEF, 0xBB, 0xBF] + Array("# coding: utf-8\nx = 'é'\n".utf8)) == "# coding: utf-8\nx = 'é'\n")
    }

    @Test("a BOM with a non-UTF-8 cookie is an error, as in Python")
    func bomWithLatin1Cookie() throws {
        let source: [UInt8] = [0xEF, 0xBB, 0xBF] + Array("# coding: latin-1\nx = 1\n".utf8)
        let error = #expect(throws: ModuleIndexError.self) { try decode(source) }
        #expect(error?.kind == .undecodableSource)
        #expect(error?.path == Self.path)
        #expect(error?.detail.contains("BOM") == true)
        #expect(error?.problem == .undecodable(line: 1, encoding: "latin-1"))
        #expect(
            error?.description
                == "cannot decode /src/mod.py: line 1 has coding cookie 'latin-1' but the file starts with a UTF-8 BOM (encoding problem)")
    }

    @Test("undecodable bytes are an error naming the file, line, encoding and byte")
    func undecodableBytes() throws {
        let source = bytes("a = 1\nb = 2\nc = '", latin1: [0xFF], "'\n")
        let error = #expect(throws: ModuleIndexError.self) { try decode(source) }
        #expect(error?.kind == .undecodableSource)
        #expect(error?.path == Self.path)
        #expect(error?.problem == .undecodable(line: 3, encoding: "utf-8"))
        #expect(error?.description == "cannot decode /src/mod.py: line 3 is not valid utf-8 (byte 0xff at column 6: invalid start byte)")
    }

    @Test("the encoding named is the one that failed: a cookie's codec, not UTF-8")
    func undecodableUnderCookie() throws {
        let source = bytes("# coding: ascii\n\nx = '", latin1: [0xE9], "'\n")
        let error = #expect(throws: ModuleIndexError.self) { try decode(source) }
        #expect(error?.problem == .undecodable(line: 3, encoding: "ascii"))
        #expect(error?.description == "cannot decode /src/mod.py: line 3 is not valid ascii (byte 0xe9 at column 6: ordinal not in range(128))")
    }

    @Test("truncated and malformed UTF-8 sequences are reported")
    func malformedUTF8() throws {
        #expect(throws: ModuleIndexError.self) { try decode([0x61, 0xC3]) }
        #expect(throws: ModuleIndexError.self) { try decode([0xC3, 0x28]) }
        #expect(throws: ModuleIndexError.self) { try decode([0xED, 0xA0, 0x80]) }  // a surrogate
        #expect(throws: ModuleIndexError.self) { try decode([0xC0, 0x80]) }  // overlong
        let truncated = #expect(throws: ModuleIndexError.self) { try decode([0x61, 0xE2, 0x82]) }
        #expect(truncated?.detail.hasSuffix("unexpected end of data)") == true)
    }

    @Test("an unknown encoding is an error naming the file and the encoding")
    func unknownEncoding() throws {
        let error = #expect(throws: ModuleIndexError.self) { try decode(Array("# coding: klingon\nx = 1\n".utf8)) }
        #expect(error?.kind == .undecodableSource)
        #expect(error?.problem == .undecodable(line: 1, encoding: "klingon"))
        #expect(error?.description == "cannot decode /src/mod.py: line 1 names unknown encoding 'klingon' in its coding cookie")
    }

    @Test(
        "encoding names and aliases Python accepts",
        arguments: [
            ("utf-8", "é"), ("UTF-8", "é"), ("utf8", "é"), ("utf_8", "é"), ("utf-8-sig", "é"), ("u8", "é"),
            ("latin-1", "Ã©"), ("latin1", "Ã©"), ("iso-8859-1", "Ã©"), ("iso8859-1", "Ã©"), ("ISO-8859-1", "Ã©"),
            ("l1", "Ã©"), ("iso-latin-1", "Ã©"), ("latin-1-unix", "Ã©"),
            ("cp1252", "Ã©"), ("windows-1252", "Ã©"),
        ])
    func aliases(name: String, expected: String) throws {
        // "é" in UTF-8 is C3 A9: Latin-1 and cp1252 read those two bytes as "Ã©".
        let source = Array("# coding: \(name)\nx = 'é'\n".utf8)
        #expect(try decode(source) == "# coding: \(name)\nx = '\(expected)'\n")
    }

    @Test("ascii rejects bytes above 0x7F")
    func asciiCodec() throws {
        #expect(try decode(Array("# coding: ascii\nx = 1\n".utf8)) == "# coding: ascii\nx = 1\n")
        #expect(try decode(Array("# coding: us-ascii\nx = 1\n".utf8)) == "# coding: us-ascii\nx = 1\n")
        let error = #expect(throws: ModuleIndexError.self) { try decode(bytes("# coding: ascii\nx = '", latin1: [0xE9], "'")) }
        #expect(error?.detail.contains("ascii") == true)
    }

    @Test("cp1252 maps 0x80–0x9F to its own characters and rejects its five holes")
    func cp1252Codec() throws {
        #expect(try decode(bytes("# coding: cp1252\nx = '", latin1: [0x80, 0x93, 0x94, 0xE9], "'")) == "# coding: cp1252\nx = '€“”é'")
        #expect(throws: ModuleIndexError.self) { try decode(bytes("# coding: cp1252\nx = '", latin1: [0x81], "'")) }
    }

    @Test("like import (the C tokenizer), the cookie line itself may hold non-UTF-8 bytes")
    func nonUTF8CookieLine() throws {
        #expect(try decode(bytes("# coding: latin-1 ", latin1: [0xE9], "\n")) == "# coding: latin-1 é\n")
        #expect(try decode(bytes("#", latin1: [0xE9], "\n# coding: latin-1\n")) == "#é\n# coding: latin-1\n")
    }

    @Test("line endings and everything else are kept as they are")
    func keepsTextAsIs() throws {
        let text = "# coding: utf-8\r\nx = 1\r\n\ty = '\u{0}'\n"
        #expect(try decode(Array(text.utf8)) == text)
    }

    @Test("cookie matching follows tokenize's regular expression")
    func cookieRegex() {
        func name(_ line: String) -> String? { SourceDecoder.cookieName(in: Array(line.utf8)[...]) }
        #expect(name("# coding: latin-1\n") == "latin-1")
        #expect(name("#coding=utf8") == "utf8")
        #expect(name("  \t# -*- coding: cp1252 -*-") == "cp1252")
        #expect(name("# vim:fileencoding=iso-8859-1") == "iso-8859-1")
        #expect(name("# coding: \n") == nil)
        #expect(name("# coding:: x coding: ascii") == "ascii")
        #expect(name("x = 1  # coding: latin-1") == nil)
        #expect(name("# coding latin-1") == nil)
        #expect(name("# encoding: latin-1") == "latin-1")
    }

    @Test("tokenize's name normalisation")
    func normalNames() {
        #expect(SourceDecoder.normalName("UTF_8") == "utf-8")
        #expect(SourceDecoder.normalName("utf-8-sig") == "utf-8")
        #expect(SourceDecoder.normalName("utf8") == "utf8")
        #expect(SourceDecoder.normalName("Latin_1") == "iso-8859-1")
        #expect(SourceDecoder.normalName("iso-latin-1-unix") == "iso-8859-1")
        #expect(TextCodec.normalize("ISO--8859 1") == "iso_8859_1")
        #expect(TextCodec.normalize("-utf8-") == "utf8")
    }

    @Test("through the index: the error names the module's file")
    func errorNamesTheFile() throws {
        let tree = try TemporaryTree()
        try tree.write("broken.py", bytes: Array("x = '".utf8) + [0xFF] + Array("'\n".utf8))
        try tree.write("pkg/__init__.py", bytes: Array("# coding: nonsense\n".utf8))
        let index = try ModuleIndex(root: tree.root)
        let broken = #expect(throws: ModuleIndexError.self) { try index.lookup("broken") }
        #expect(broken?.path == tree.path("broken.py"))
        #expect(broken?.kind == .undecodableSource)
        let package = #expect(throws: ModuleIndexError.self) { try index.lookup("pkg") }
        #expect(package?.path == tree.path("pkg/__init__.py"))
        // Listing does not read sources, so undecodable files are still listed.
        #expect(try index.entries().map(\.name) == ["broken", "pkg"])
    }
}
