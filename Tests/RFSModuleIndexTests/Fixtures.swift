import Foundation

/// The repository's `fixtures/` folder, found from this source file's location
/// (`Tests/RFSModuleIndexTests/<file>` → three levels up is the package root).
enum Fixtures {
    static let packageRoot: String = {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url.deleteLastPathComponent() }
        return url.path
    }()

    static let workspace = packageRoot + "/fixtures/workspace"
    static let workspaceB = packageRoot + "/fixtures/workspace_b"
}
