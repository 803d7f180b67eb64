// swift-tools-version:6.1
import PackageDescription

/// RemoteFileSource: a worker that embeds CPython and imports modules from a client's folder
/// over JSON-RPC 2.0 on WebSocket. One module per folder; see DESIGN.md §2 for the roles.
let package = Package(
    name: "RemoteFileSource",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "rfs", targets: ["rfs"]),
        .library(name: "RFSProtocol", targets: ["RFSProtocol"]),
        .library(name: "RFSModuleIndex", targets: ["RFSModuleIndex"]),
        // For the fuzz targets in Fuzz/ (their own package, so the everyday build skips them).
        .library(name: "RFSWire", targets: ["RFSWire"]),
        .library(name: "RFSTransport", targets: ["RFSTransport"]),
    ],
    traits: [
        // The Deephaven client (`rfs serve|run|info --deephaven URL`, DESIGN.md §8): gRPC over HTTP/2
        // with grpc-swift-2 and swift-protobuf. Off by default because the gRPC stack adds minutes to
        // a cold build: `swift build --traits Deephaven`. scripts/test builds and tests with it.
        .trait(name: "Deephaven", description: "rfs speaks to a Deephaven server's remote-file-source plugin over gRPC"),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        // Deephaven trait only. Not older than the protoc plugins scripts/generate-deephaven-protos pins.
        .package(url: "https://github.com/apple/swift-protobuf.git", from: "1.39.0"),
        .package(url: "https://github.com/grpc/grpc-swift-2.git", from: "2.4.3"),
        .package(url: "https://github.com/grpc/grpc-swift-protobuf.git", from: "2.4.1"),
        .package(url: "https://github.com/grpc/grpc-swift-nio-transport.git", from: "2.9.2"),
    ],
    targets: [
        // Debian's libpython3-dev (Python 3.11), found through pkg-config.
        .systemLibrary(
            name: "CPython",
            path: "Sources/CPython",
            pkgConfig: "python3-embed",
            providers: [.apt(["libpython3-dev"])]
        ),
        // The system's libcrypto (OpenSSL), for SHA-256 of the client's files; found through pkg-config.
        .systemLibrary(
            name: "CLibCrypto",
            path: "Sources/CLibCrypto",
            pkgConfig: "libcrypto",
            providers: [.apt(["libssl-dev"])]
        ),
        // Plain C wrappers for what Swift cannot import from Python.h (macros, globals, variadics).
        .target(name: "CRFSPythonShim", dependencies: ["CPython"]),
        // Process and descriptor helpers Swift's Glibc module lacks (posix_spawn extras, ppoll, eventfd).
        .target(name: "CRFSSystem"),
        .target(
            name: "RFSProtocol",
            dependencies: [.product(name: "Logging", package: "swift-log"), .product(name: "CoreMetrics", package: "swift-metrics")]
        ),
        // The protocol's typed shapes: every method's params and results, versions, capabilities.
        .target(name: "RFSWire", dependencies: ["RFSProtocol"]),
        .target(name: "RFSModuleIndex", dependencies: [.product(name: "Logging", package: "swift-log")]),
        // The worker node's store of clients' files and the runs' trees: layout, cleanup, eviction.
        .target(name: "RFSStore", dependencies: [.product(name: "Logging", package: "swift-log")]),
        .target(
            name: "RFSPython",
            dependencies: [
                "CRFSPythonShim", "CRFSSystem", "RFSProtocol", "RFSWire", .product(name: "Logging", package: "swift-log"),
            ],
            resources: [.copy("remote_file_source")]
        ),
        // A run host: one embedded interpreter in a child process of the worker (DESIGN.md §6).
        .target(
            name: "RFSHost",
            dependencies: [
                "RFSPython", "RFSProtocol", "RFSWire", "CRFSSystem", .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .target(
            name: "RFSTransport",
            dependencies: [
                "RFSProtocol",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOWebSocket", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .target(
            name: "RFSWorker",
            dependencies: [
                "RFSProtocol", "RFSWire", "RFSTransport", "RFSStore", "CRFSSystem",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ]
        ),
        // The client's tree (DESIGN.md §7): the manifest of its folders, the hash cache, the
        // static import closure used to prefetch blobs.
        .target(
            name: "RFSManifest",
            dependencies: ["RFSModuleIndex", "RFSWire", "CLibCrypto", .product(name: "Logging", package: "swift-log")]
        ),
        .target(
            name: "RFSClient",
            dependencies: [
                "RFSProtocol", "RFSWire", "RFSModuleIndex", "RFSManifest", "RFSTransport", "CRFSSystem",
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // Swift generated from our own minimal Deephaven protos (Protos/deephaven/; regenerate with
        // scripts/generate-deephaven-protos). Every file is inside `#if Deephaven`.
        .target(
            name: "RFSDeephavenProto",
            dependencies: [
                .product(name: "SwiftProtobuf", package: "swift-protobuf", condition: .when(traits: ["Deephaven"])),
                .product(name: "GRPCCore", package: "grpc-swift-2", condition: .when(traits: ["Deephaven"])),
                .product(name: "GRPCProtobuf", package: "grpc-swift-protobuf", condition: .when(traits: ["Deephaven"])),
            ]
        ),
        // The Deephaven client: login and token rotation, the console, the plugin object's message
        // stream serving fetch_module (DESIGN.md §8). Every file is inside `#if Deephaven`.
        .target(
            name: "RFSDeephaven",
            dependencies: [
                "RFSDeephavenProto", "RFSProtocol", "RFSWire", "RFSModuleIndex", "RFSClient",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "GRPCCore", package: "grpc-swift-2", condition: .when(traits: ["Deephaven"])),
                .product(name: "GRPCProtobuf", package: "grpc-swift-protobuf", condition: .when(traits: ["Deephaven"])),
                .product(
                    name: "GRPCNIOTransportHTTP2Posix", package: "grpc-swift-nio-transport",
                    condition: .when(traits: ["Deephaven"])
                ),
                .product(name: "SwiftProtobuf", package: "swift-protobuf", condition: .when(traits: ["Deephaven"])),
            ]
        ),
        .executableTarget(
            name: "rfs",
            dependencies: [
                "RFSWorker", "RFSHost", "RFSClient", "RFSDeephaven", "RFSModuleIndex", "RFSManifest", "RFSProtocol", "RFSWire",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
            ]
        ),
        .testTarget(name: "RFSProtocolTests", dependencies: ["RFSProtocol"]),
        // Every file is inside `#if Deephaven`: the in-process fakes and the real-server suite.
        .testTarget(
            name: "RFSDeephavenTests",
            dependencies: [
                "RFSDeephaven", "RFSDeephavenProto", "RFSClient", "RFSProtocol", "RFSWire", "RFSTestSupport",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "GRPCCore", package: "grpc-swift-2", condition: .when(traits: ["Deephaven"])),
                .product(name: "GRPCInProcessTransport", package: "grpc-swift-2", condition: .when(traits: ["Deephaven"])),
                .product(name: "SwiftProtobuf", package: "swift-protobuf", condition: .when(traits: ["Deephaven"])),
            ]
        ),
        // Scratch trees and the run-as-nobody helper, shared by the test targets that need them.
        .target(name: "RFSTestSupport", path: "Tests/RFSTestSupport"),
        .testTarget(name: "RFSModuleIndexTests", dependencies: ["RFSModuleIndex", "RFSTestSupport"]),
        .testTarget(
            name: "RFSManifestTests",
            dependencies: ["RFSManifest", "RFSModuleIndex", "RFSWire", "RFSClient", "RFSProtocol", "RFSTestSupport", .product(name: "Logging", package: "swift-log")]
        ),
        .testTarget(name: "RFSWireTests", dependencies: ["RFSWire", "RFSProtocol"]),
        .testTarget(name: "RFSWorkerTests", dependencies: ["RFSWorker", "RFSWire", "RFSProtocol", "RFSStore", "RFSTestSupport", "RFSTransport"]),
        .testTarget(name: "RFSStoreTests", dependencies: ["RFSStore", "RFSTestSupport", .product(name: "Logging", package: "swift-log")]),
        .testTarget(name: "RFSHostTests", dependencies: ["RFSHost", "RFSPython", "RFSWire", "CRFSSystem"]),
        .testTarget(
            name: "RFSPythonTests",
            dependencies: ["RFSPython", "RFSWire", "RFSModuleIndex", .product(name: "Logging", package: "swift-log")]
        ),
        .testTarget(
            name: "RFSTransportTests",
            dependencies: [
                "RFSTransport",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOWebSocket", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .testTarget(
            name: "RFSEndToEndTests",
            dependencies: [
                "RFSProtocol", "RFSWire", "RFSTransport", "CRFSSystem", "RFSTestSupport", .product(name: "Logging", package: "swift-log"),
            ]
        ),
    ],
    swiftLanguageModes: [.v6]
)
