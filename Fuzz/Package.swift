// swift-tools-version:6.1
import PackageDescription

/// libFuzzer targets for RemoteFileSource's input-facing code: the JSON parser, the JSON-RPC
/// decoder and the WebSocket message layer (one executable each, `fuzz-<target>`), and the
/// generator of their seed corpus. A package of its own, depending on the project by path, so the
/// project's everyday `swift build` neither builds these nor needs the fuzzer runtime. Built and
/// run by `scripts/fuzz`, which passes `-sanitize=fuzzer` and `-enable-testing` (the targets
/// reach internal types with `@testable import`); each target's main.swift says what it checks.
let package = Package(
    name: "RemoteFileSourceFuzz",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "fuzz-json", targets: ["FuzzJSON"]),
        .executable(name: "fuzz-jsonrpc", targets: ["FuzzJSONRPC"]),
        .executable(name: "fuzz-websocket", targets: ["FuzzWebSocket"]),
        .executable(name: "fuzz-corpus", targets: ["FuzzCorpus"]),
    ],
    dependencies: [
        .package(name: "RemoteFileSource", path: ".."),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
    ],
    targets: [
        .target(name: "CLibFuzzer"),
        // How a target reports a broken property, and helpers the targets share.
        .target(name: "FuzzSupport", dependencies: [.product(name: "RFSProtocol", package: "RemoteFileSource")]),
        .executableTarget(
            name: "FuzzJSON",
            dependencies: ["CLibFuzzer", "FuzzSupport", .product(name: "RFSProtocol", package: "RemoteFileSource")]
        ),
        .executableTarget(
            name: "FuzzJSONRPC",
            dependencies: ["CLibFuzzer", "FuzzSupport", .product(name: "RFSProtocol", package: "RemoteFileSource")]
        ),
        .executableTarget(
            name: "FuzzWebSocket",
            dependencies: [
                "CLibFuzzer", "FuzzSupport",
                .product(name: "RFSTransport", package: "RemoteFileSource"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOWebSocket", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // Writes the seed corpus (Fuzz/corpus/) from the protocol's typed messages.
        .executableTarget(
            name: "FuzzCorpus",
            dependencies: [
                .product(name: "RFSProtocol", package: "RemoteFileSource"),
                .product(name: "RFSWire", package: "RemoteFileSource"),
            ]
        ),
    ],
    swiftLanguageModes: [.v6]
)
