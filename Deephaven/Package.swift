// swift-tools-version:6.1
import PackageDescription

/// RemoteFileSource's Deephaven client side: the gRPC stack (grpc-swift-2, swift-protobuf) and the
/// Swift generated from our own minimal Deephaven protos (../Protos/deephaven/). A package of its
/// own, like Fuzz/, so the project's everyday `swift build` does not compile the gRPC stack.
/// Regenerate Sources/RFSDeephavenProto/Generated/ with scripts/generate-deephaven-protos; the
/// versions below must not be older than the plugins that script pins.
let package = Package(
    name: "RemoteFileSourceDeephaven",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "RFSDeephavenProto", targets: ["RFSDeephavenProto"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-protobuf.git", from: "1.39.0"),
        .package(url: "https://github.com/grpc/grpc-swift-2.git", from: "2.4.3"),
        .package(url: "https://github.com/grpc/grpc-swift-protobuf.git", from: "2.4.1"),
    ],
    targets: [
        // Generated messages and service stubs (client and server: tests fake the server in process).
        .target(
            name: "RFSDeephavenProto",
            dependencies: [
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
                .product(name: "GRPCCore", package: "grpc-swift-2"),
                .product(name: "GRPCProtobuf", package: "grpc-swift-protobuf"),
            ]
        ),
    ],
    swiftLanguageModes: [.v6]
)
