import RFSTransport
import Testing

/// `wss://` with a self-signed certificate: trusted through `caFile`, refused without it.
@Suite
struct TLSTests {
    private func withTLSServer(_ body: (WebSocketServer, TestCertificate) async throws -> Void) async throws {
        let certificate = try await TestCertificate.make()
        defer { certificate.remove() }
        let tls = TLSFiles(certificatePath: certificate.certificatePath, privateKeyPath: certificate.privateKeyPath)
        try await withServer(testServerConfiguration(token: "tls-token-0123456789", tls: tls)) { server in
            #expect(server.url.hasPrefix("wss://127.0.0.1:"))
            try await body(server, certificate)
        }
    }

    @Test func roundTripWithCAFile() async throws {
        try await withTLSServer { server, certificate in
            // Both names in the certificate: the IP address and the DNS name.
            for host in ["127.0.0.1", "localhost"] {
                let configuration = WebSocketClientConfiguration(
                    url: "wss://\(host):\(server.port)/v1/session",
                    token: "tls-token-0123456789",
                    caFile: certificate.certificatePath
                )
                let session = try await WebSocketClient.connect(configuration: configuration, logger: testLogger)
                var messages = session.messages.makeAsyncIterator()
                let big = String(repeating: "tls ", count: 300_000)
                try await session.send(big)
                #expect(try await messages.expectMessage() == big)
                await session.close()
                #expect(session.closeCode == .normalClosure)
            }
        }
    }

    @Test func clientWithoutCAFailsWithTLSError() async throws {
        try await withTLSServer { server, certificate in
            let configuration = WebSocketClientConfiguration(url: server.url, token: "tls-token-0123456789")
            await #expect {
                _ = try await WebSocketClient.connect(configuration: configuration, logger: testLogger)
            } throws: { error in
                guard case .tlsFailed(let url, _) = error as? WebSocketTransportError else { return false }
                return url == server.url && "\(error)".contains(server.url)
            }
            // The failed handshake did not hurt the server.
            var trusting = configuration
            trusting.caFile = certificate.certificatePath
            let session = try await WebSocketClient.connect(configuration: trusting, logger: testLogger)
            await session.close()
        }
    }

    @Test func tokenIsStillCheckedOverTLS() async throws {
        try await withTLSServer { server, certificate in
            let configuration = WebSocketClientConfiguration(
                url: server.url,
                token: "wrong",
                caFile: certificate.certificatePath
            )
            await #expect {
                _ = try await WebSocketClient.connect(configuration: configuration, logger: testLogger)
            } throws: { error in
                "\(error)" == "401: token rejected by \(server.url)"
            }
        }
    }

    @Test func plainClientAgainstTLSServerFails() async throws {
        try await withTLSServer { server, _ in
            let configuration = WebSocketClientConfiguration(
                url: "ws://127.0.0.1:\(server.port)/v1/session",
                token: "tls-token-0123456789",
                connectTimeout: .seconds(5)
            )
            await #expect(throws: WebSocketTransportError.self) {
                _ = try await WebSocketClient.connect(configuration: configuration, logger: testLogger)
            }
        }
    }

    @Test func missingCertificateFileIsReported() async throws {
        let tls = TLSFiles(certificatePath: "/nonexistent/cert.pem", privateKeyPath: "/nonexistent/key.pem")
        await #expect {
            _ = try await WebSocketServer.bind(
                configuration: testServerConfiguration(tls: tls),
                logger: testLogger,
                onSession: echo
            )
        } throws: { error in
            guard case .tlsConfiguration(let path, _) = error as? WebSocketTransportError else { return false }
            return path == "/nonexistent/cert.pem"
        }
    }
}
