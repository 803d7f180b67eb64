import Foundation
import RFSManifest
import RFSModuleIndex
import RFSWire
import RFSTestSupport
import Testing

@Suite("Manifest builder")
struct ManifestBuilderTests {
    static func build(_ roots: [ManifestRoot], cache: HashCache = HashCache(path: nil), hasher: FileHasher = FileHasher(), maxTreeBytes: Int64 = 1 << 30, maxFiles: Int = 200_000) throws -> BuiltManifest {
        try ManifestBuilder(roots: roots, maxTreeBytes: maxTreeBytes, maxFiles: maxFiles, cache: cache, hasher: hasher).build(snapshot: "c1-1")
    }

    static func paths(_ built: BuiltManifest, root: Int = 0) -> [String] {
        built.manifest.roots[root].files.map(\.path)
    }

    @Test("a source root lists modules, everything inside packages, dist-info, native extensions with a null sha; nothing else")
    func sourceRoot() throws {
        let tree = try TemporaryTree([
            "top.py": "x = 1\n", "README.md": "loose\n", "not-a-module.py": "",
            "pkg/__init__.py": "", "pkg/mod.py": "", "pkg/data/table.json": "{}", "pkg/my-script.py": "",
            "pkg/__pycache__/mod.cpython-311.pyc": "junk", "pkg/stale.pyc": "junk", "pkg/.hidden": "h",
            "pkg/_speed.cpython-311-x86_64-linux-gnu.so": "ELF", "_topext.cpython-311-x86_64-linux-gnu.so": "ELF",
            "not-ident.cpython-311-x86_64-linux-gnu.so": "ELF", "libthing.so.1": "ELF",
            "ns/sub/m.py": "", "ns/notes.txt": "n",
            "pkg-1.0.dist-info/METADATA": "Name: pkg\n", "pkg-1.0.dist-info/licenses/LICENSE": "MIT",
            "venvish/pyvenv.cfg": "", "venvish/lib.py": "",
            "node_modules/x/index.py": "", "data/only.txt": "d",
        ])
        let built = try Self.build([ManifestRoot(index: ModuleIndex(root: tree.root), kind: .source)])
        #expect(
            Self.paths(built) == [
                "_topext.cpython-311-x86_64-linux-gnu.so", "ns/notes.txt", "ns/sub/m.py",
                "pkg-1.0.dist-info/METADATA", "pkg-1.0.dist-info/licenses/LICENSE",
                "pkg/__init__.py", "pkg/_speed.cpython-311-x86_64-linux-gnu.so", "pkg/data/table.json", "pkg/mod.py",
                "pkg/my-script.py", "top.py",
            ])
        let files = built.manifest.roots[0].files
        #expect(files.filter { $0.path.hasSuffix(".so") }.allSatisfy { $0.sha256 == nil })
        #expect(built.manifest.roots[0].nativeTopLevelNames == ["_topext"])
        #expect(files.first { $0.path == "top.py" }?.sha256 == SHA256.hex(of: Array("x = 1\n".utf8)))
        #expect(files.first { $0.path == "top.py" }?.size == 6)
        #expect(built.manifest.roots[0].kind == .source && built.manifest.roots[0].path == tree.root)
        // The manifest is valid on the wire (sorted, unique, safe paths).
        #expect(try TreeManifest(json: built.manifest.json) == built.manifest)
    }

    @Test("a script root lists only top-level modules and regular packages: no namespace packages, no dist-info")
    func scriptRoot() throws {
        let tree = try TemporaryTree([
            "job.py": "", "pkg/__init__.py": "", "pkg/res/a.txt": "a", "ns/m.py": "", "x-1.0.dist-info/METADATA": "",
            "notes.txt": "",
        ])
        let built = try Self.build([ManifestRoot(index: ModuleIndex(root: tree.root), kind: .script)])
        #expect(Self.paths(built) == ["job.py", "pkg/__init__.py", "pkg/res/a.txt"])
    }

    @Test("excludes and symlinks out of the folder keep files out; entries are numbered across roots")
    func excludesAndSymlinks() throws {
        let tree = try TemporaryTree(["pkg/__init__.py": "", "pkg/tests/test_a.py": "", "pkg/keep.py": ""])
        try "secret".write(toFile: tree.outside + "/secret.txt", atomically: true, encoding: .utf8)
        try tree.symlink("pkg/leak.txt", to: tree.outside + "/secret.txt")
        try tree.symlink("pkg/alias.py", to: tree.root + "/pkg/keep.py")
        let other = try TemporaryTree(["b.py": "b"])
        let built = try Self.build([
            ManifestRoot(index: ModuleIndex(root: tree.root, excludes: ["tests"]), kind: .source),
            ManifestRoot(index: ModuleIndex(root: other.root), kind: .source),
        ])
        #expect(Self.paths(built) == ["pkg/__init__.py", "pkg/alias.py", "pkg/keep.py"])
        #expect(Self.paths(built, root: 1) == ["b.py"])
        #expect(built.locations.count == 4)
        #expect(built.entry(3)?.root == 1 && built.entry(3)?.file.path == "b.py")
        #expect(built.locations[1] == tree.root + "/pkg/keep.py")  // the symlink's confined target
    }

    @Test("sorted in code point order, not Swift's String order")
    func codePointOrder() throws {
        // "é" precomposed (U+00E9) sorts after "z"; "pkg/a.txt" after "pkg.py"? no: "." < "/".
        let tree = try TemporaryTree(["pkg/__init__.py": "", "pkg/z.txt": "", "pkg/\u{E9}.txt": "", "pkg/Z.txt": "", "pkg.py": ""])
        let built = try Self.build([ManifestRoot(index: ModuleIndex(root: tree.root), kind: .source)])
        #expect(Self.paths(built) == ["pkg.py", "pkg/Z.txt", "pkg/__init__.py", "pkg/z.txt", "pkg/\u{E9}.txt"])
    }

    @Test("over the size cap: the error names the limit, the biggest top-level entries and files")
    func sizeCap() throws {
        let tree = try TemporaryTree(["small.py": "x"])
        try tree.write("big/__init__.py", bytes: [UInt8](repeating: 65, count: 3000))
        try tree.write("big/blob.bin", bytes: [UInt8](repeating: 66, count: 5000))
        try tree.write("mid.py", bytes: [UInt8](repeating: 67, count: 2000))
        let hasher = FileHasher()
        #expect {
            try Self.build([ManifestRoot(index: ModuleIndex(root: tree.root), kind: .source)], hasher: hasher, maxTreeBytes: 4096)
        } throws: { error in
            let text = "\(error)"
            return text.contains("more than --max-tree-size 4 KiB") && text.contains("\(tree.root)/big (7.8 KiB)")
                && text.contains("biggest files: \(tree.root)/big/blob.bin (4.9 KiB), \(tree.root)/big/__init__.py (2.9 KiB), \(tree.root)/mid.py (2 KiB)")
        }
        #expect(hasher.filesRead == 0)  // refused before reading a byte
        #expect(throws: ManifestError.self) {
            try Self.build([ManifestRoot(index: ModuleIndex(root: tree.root), kind: .source)], maxFiles: 2)
        }
    }
}

@Suite("Hash cache")
struct HashCacheTests {
    @Test("a second build reads no file; an edit gives a new sha; the cache survives on disk")
    func reuse() throws {
        let tree = try TemporaryTree(["a.py": "one\n", "pkg/__init__.py": "", "pkg/d.txt": "data"])
        let cacheFile = tree.base + "/cache/rfs/" + HashCache.fileName
        let roots = [ManifestRoot(index: try ModuleIndex(root: tree.root), kind: .source)]
        let first = FileHasher()
        let built = try ManifestBuilderTests.build(roots, cache: HashCache(path: cacheFile), hasher: first)
        #expect(first.filesRead == 3)
        let second = FileHasher()
        let again = try ManifestBuilderTests.build(roots, cache: HashCache(path: cacheFile), hasher: second)
        #expect(second.filesRead == 0)
        #expect(again.manifest == built.manifest)

        try tree.write("a.py", "two\n")
        let third = FileHasher()
        let edited = try ManifestBuilderTests.build(roots, cache: HashCache(path: cacheFile), hasher: third)
        #expect(third.filesRead == 1)
        #expect(edited.manifest.roots[0].files[0].sha256 == SHA256.hex(of: Array("two\n".utf8)))
    }

    @Test("a corrupt cache file is ignored and replaced")
    func corrupt() throws {
        let tree = try TemporaryTree(["a.py": "one\n"])
        let cacheFile = tree.base + "/" + HashCache.fileName
        try Data("RFSHASH1garbage".utf8).write(to: URL(fileURLWithPath: cacheFile))
        let cache = HashCache(path: cacheFile)
        #expect(cache.count == 0)
        let roots = [ManifestRoot(index: try ModuleIndex(root: tree.root), kind: .source)]
        _ = try ManifestBuilderTests.build(roots, cache: cache)
        #expect(HashCache(path: cacheFile).count == 1)
    }

    @Test("bounded: the least recently seen entries are dropped on save")
    func bounded() throws {
        let tree = try TemporaryTree()
        let cacheFile = tree.base + "/" + HashCache.fileName
        let sha = String(repeating: "ab", count: 32)
        let stamp = { (inode: UInt64) in FileStamp(device: 1, inode: inode, size: 1, modifiedNanoseconds: 1, changedNanoseconds: 1) }
        let old = HashCache(path: cacheFile, maxEntries: 2)
        old.store(sha, for: stamp(1))
        old.store(sha, for: stamp(2))
        try old.save()
        let newer = HashCache(path: cacheFile, maxEntries: 2)
        #expect(newer.sha256(for: stamp(2)) == sha)  // seen again in a later generation
        newer.store(sha, for: stamp(3))
        try newer.save()
        let reloaded = HashCache(path: cacheFile, maxEntries: 2)
        #expect(reloaded.count == 2)
        #expect(reloaded.sha256(for: stamp(1)) == nil)
        #expect(reloaded.sha256(for: stamp(2)) == sha && reloaded.sha256(for: stamp(3)) == sha)
    }

    @Test("a run that only finds its files in the cache does not rewrite it")
    func hitsAloneWriteNothing() throws {
        let tree = try TemporaryTree()
        let cacheFile = tree.base + "/" + HashCache.fileName
        let sha = String(repeating: "cd", count: 32)
        let stamp = FileStamp(device: 1, inode: 7, size: 1, modifiedNanoseconds: 1, changedNanoseconds: 1)
        let first = HashCache(path: cacheFile)
        first.store(sha, for: stamp)
        try first.save()
        let written = try FileManager.default.attributesOfItem(atPath: cacheFile)[.systemFileNumber] as? Int
        let second = HashCache(path: cacheFile)
        #expect(second.sha256(for: stamp) == sha)
        try second.save()
        // The file is replaced by rename when written: the same inode means it was not.
        #expect(try FileManager.default.attributesOfItem(atPath: cacheFile)[.systemFileNumber] as? Int == written)
    }

    @Test("each set of folders has its own cache file; only the most recently changed sets are kept")
    func oneFilePerFolderSet() throws {
        let tree = try TemporaryTree()
        let directory = tree.base + "/" + HashCache.directoryName
        let a = HashCache.path(forRoots: ["/work/job", "/work/src"], in: directory)
        #expect(a == HashCache.path(forRoots: ["/work/job", "/work/src"], in: directory))
        #expect(a != HashCache.path(forRoots: ["/work/src", "/work/job"], in: directory))
        #expect(a != HashCache.path(forRoots: ["/work/job"], in: directory))
        let sha = String(repeating: "ef", count: 32)
        for set in 0..<5 {
            let cache = HashCache(path: HashCache.path(forRoots: ["/set/\(set)"], in: directory))
            cache.store(sha, for: FileStamp(device: 1, inode: UInt64(set), size: 1, modifiedNanoseconds: 1, changedNanoseconds: 1))
            try cache.save()
            // Dates order the sets: the file written later is the more recent.
            try FileManager.default.setAttributes(
                [.modificationDate: Date(timeIntervalSince1970: Double(1_000_000 + set))],
                ofItemAtPath: HashCache.path(forRoots: ["/set/\(set)"], in: directory))
        }
        HashCache.trim(directory, keep: 2)
        let kept = try FileManager.default.contentsOfDirectory(atPath: directory).sorted()
        #expect(kept == [3, 4].map { HashCache.path(forRoots: ["/set/\($0)"], in: directory).split(separator: "/").last.map(String.init)! }.sorted())
    }

    @Test("SHA-256 through libcrypto matches the known digest")
    func knownDigest() {
        #expect(SHA256.hex(of: Array("abc".utf8)) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(SHA256.hex(of: []) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
    }
}
