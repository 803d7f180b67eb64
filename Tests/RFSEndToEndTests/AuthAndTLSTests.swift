import Foundation
import Testing

extension EndToEnd {
    /// Who may talk to a worker (DESIGN.md §3 "Authentication") and how it is reached over TLS.
    @Suite(.timeLimit(.minutes(2)))
    struct AuthAndTLSTests {
        @Test("a wrong or missing token is refused with 401 and exit 2, and the worker keeps serving")
        func tokenRefused() async throws {
            let worker = try await TestWorker.start()
            let wrongToken = FileManager.default.temporaryDirectory.appendingPathComponent("rfs-wrong-\(UUID().uuidString)")
            try "not-the-token".write(to: wrongToken, atomically: true, encoding: .utf8)
            defer { try? FileManager.default.removeItem(at: wrongToken) }

            let wrong = try await rfs(
                ["run", "--worker", worker.url, "--token-file", wrongToken.path, "--source", Paths.workspace,
                 Paths.job("hello.py")])
            #expect(wrong.status == 2)
            #expect(wrong.stderr.contains("401"))
            #expect(wrong.stderr.split(separator: "\n").count == 1)
            #expect(wrong.stdout.isEmpty)

            let missing = try await rfs(
                ["run", "--worker", worker.url, "--source", Paths.workspace, Paths.job("hello.py")],
                environment: ["RFS_TOKEN": ""])
            #expect(missing.status == 2)
            #expect(missing.stderr.contains("401"))

            let good = try await worker.run(Paths.job("hello.py"), sources: [Paths.workspace])
            #expect(good.status == 0)
            #expect(good.stdout == "hello from the worker\n")
            _ = await worker.stop()
        }

        @Test("a worker without a token refuses to start unless --no-auth on loopback")
        func workerNeedsToken() async throws {
            let noToken = try await rfs(["worker", "--listen", "127.0.0.1:0"], environment: ["RFS_TOKEN": ""])
            #expect(noToken.status != 0)
            #expect(noToken.stderr.contains("token"))

            let publicAddress = try await rfs(["worker", "--listen", "0.0.0.0:0", "--no-auth"], environment: ["RFS_TOKEN": ""])
            #expect(publicAddress.status != 0)
            #expect(publicAddress.stderr.contains("loopback"))
        }

        @Test("the child-worker mode refuses to start without the handshake cookie")
        func handshakeNeedsCookie() async throws {
            let result = try await rfs(["worker", "--handshake"], environment: ["RFS_PLUGIN_COOKIE": ""])
            #expect(result.status != 0)
            #expect(result.stdout.isEmpty)
            #expect(result.stderr.split(separator: "\n").count == 1)
            #expect(result.stderr.contains("rfs run"))
        }

        @Test("a TLS worker serves wss:// to a client that trusts its CA, and not to one that doesn't")
        func tlsRoundTrip() async throws {
            let folder = try Paths.temporaryDirectory()
            defer { try? FileManager.default.removeItem(at: folder) }
            let cert = folder.appendingPathComponent("cert.pem").path
            let key = folder.appendingPathComponent("key.pem").path
            let openssl = try ChildProcess(
                ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=localhost",
                 "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1", "-keyout", key, "-out", cert],
                executable: "/usr/bin/openssl")
            openssl.closeStdin()
            #expect(await openssl.result().status == 0)

            let token = "tls-test-token-0123456789"
            let worker = try ChildProcess(
                ["worker", "--listen", "127.0.0.1:0", "--tls-cert", cert, "--tls-key", key, "--log-level", "warning"],
                environment: ["RFS_TOKEN": token])
            let line = try #require(await worker.nextLine())
            let url = try #require(line.split(separator: " ").last.map(String.init))
            #expect(url.hasPrefix("wss://127.0.0.1:"))

            let trusted = try await rfs(
                ["run", "--worker", url, "--ca-file", cert, "--source", Paths.workspace, Paths.job("hello.py")],
                environment: ["RFS_TOKEN": token])
            #expect(trusted.status == 0)
            #expect(trusted.stdout == "hello from the worker\n")

            let untrusted = try await rfs(
                ["run", "--worker", url, "--source", Paths.workspace, Paths.job("hello.py")],
                environment: ["RFS_TOKEN": token])
            #expect(untrusted.status == 2)
            #expect(!untrusted.stderr.isEmpty)

            worker.signal(SIGTERM)
            #expect(await worker.result().status == 0)
        }
    }
}
