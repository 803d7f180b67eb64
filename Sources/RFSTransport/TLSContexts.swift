import NIOPosix
import NIOSSL

/// Builds the swift-nio-ssl contexts. Loading PEM files and the system trust store is blocking
/// file I/O, so it runs on NIO's thread pool, never on an event loop or the cooperative pool.
enum TLSContexts {
    /// A server context from a certificate chain and private key in PEM files.
    static func server(files: TLSFiles) async throws -> NIOSSLContext {
        try await NIOThreadPool.singleton.runIfActive {
            let chain: [NIOSSLCertificate]
            do {
                chain = try NIOSSLCertificate.fromPEMFile(files.certificatePath)
            } catch {
                throw WebSocketTransportError.tlsConfiguration(path: files.certificatePath, underlying: "\(error)")
            }
            guard !chain.isEmpty else {
                throw WebSocketTransportError.tlsConfiguration(
                    path: files.certificatePath,
                    underlying: "no certificate in the file"
                )
            }
            let key: NIOSSLPrivateKey
            do {
                key = try NIOSSLPrivateKey(file: files.privateKeyPath, format: .pem)
            } catch {
                throw WebSocketTransportError.tlsConfiguration(path: files.privateKeyPath, underlying: "\(error)")
            }
            var configuration = TLSConfiguration.makeServerConfiguration(
                certificateChain: chain.map { .certificate($0) },
                privateKey: .privateKey(key)
            )
            configuration.minimumTLSVersion = .tlsv12
            do {
                return try NIOSSLContext(configuration: configuration)
            } catch {
                throw WebSocketTransportError.tlsConfiguration(
                    path: files.certificatePath,
                    underlying: "certificate and key do not form a usable TLS context: \(error)"
                )
            }
        }
    }

    /// A client context that verifies the server against the system roots plus `caFile`.
    static func client(caFile: String?) async throws -> NIOSSLContext {
        try await NIOThreadPool.singleton.runIfActive {
            var configuration = TLSConfiguration.makeClientConfiguration()
            configuration.minimumTLSVersion = .tlsv12
            configuration.certificateVerification = .fullVerification
            if let caFile {
                let roots: [NIOSSLCertificate]
                do {
                    roots = try NIOSSLCertificate.fromPEMFile(caFile)
                } catch {
                    throw WebSocketTransportError.tlsConfiguration(path: caFile, underlying: "\(error)")
                }
                guard !roots.isEmpty else {
                    throw WebSocketTransportError.tlsConfiguration(
                        path: caFile,
                        underlying: "no certificate in the file"
                    )
                }
                configuration.additionalTrustRoots = [.certificates(roots)]
            }
            do {
                return try NIOSSLContext(configuration: configuration)
            } catch {
                throw WebSocketTransportError.tlsConfiguration(
                    path: caFile ?? "<system trust roots>",
                    underlying: "\(error)"
                )
            }
        }
    }
}
