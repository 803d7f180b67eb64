import Foundation

/// Where the tests find the `rfs` binary and the fixtures.
enum Paths {
    /// The package root, derived from this file's location (Tests/RFSEndToEndTests/Support/).
    static let packageRoot: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    static let fixtures = packageRoot.appendingPathComponent("fixtures")
    static let workspace = fixtures.appendingPathComponent("workspace").path
    static let workspaceB = fixtures.appendingPathComponent("workspace_b").path
    static let jobs = fixtures.appendingPathComponent("jobs")

    static func job(_ name: String) -> String { jobs.appendingPathComponent(name).path }

    /// `rfs` sits next to the test executable (`swift build --build-tests` builds both into one
    /// folder), whatever scratch path the build used.
    static let rfs: String = {
        let testExecutable = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        var folder = testExecutable.deletingLastPathComponent()
        while folder.path != "/" {
            let candidate = folder.appendingPathComponent("rfs")
            if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate.path }
            folder = folder.deletingLastPathComponent()
        }
        return packageRoot.appendingPathComponent(".build/debug/rfs").path
    }()

    /// A fresh temporary folder, removed by the caller.
    static func temporaryDirectory() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("rfs-e2e-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }
}

extension Paths {
    /// The real PyPI packages of scripts/pypi-packages.txt, installed side by side with their
    /// `.dist-info` folders (scripts/test runs `ensure_pypi_packages` first).
    static let pypiPackages = packageRoot.appendingPathComponent(".build/pypi-packages").path
    static let realJobs = fixtures.appendingPathComponent("real").path
    static func realJob(_ name: String) -> String { fixtures.appendingPathComponent("real").appendingPathComponent(name).path }

    /// Debian's interpreter of the embedded version: "plain local Python" to compare with.
    static let localPython = "/usr/bin/python3.11"
}
