import Foundation
import NIOPosix

/// A throwaway self-signed certificate for `localhost` and `127.0.0.1`, made with Debian's
/// `openssl` CLI so the package needs no certificate-building dependency.
struct TestCertificate: Sendable {
    let directory: String
    let certificatePath: String
    let privateKeyPath: String

    static let opensslPath: String? = {
        for candidate in ["/usr/bin/openssl", "/usr/local/bin/openssl", "/opt/homebrew/bin/openssl"]
        where FileManager.default.isExecutableFile(atPath: candidate) {
            return candidate
        }
        return nil
    }()

    /// Generates the key pair and certificate in a fresh temporary directory (on NIO's thread
    /// pool: running a process blocks).
    static func make() async throws -> TestCertificate {
        guard let openssl = self.opensslPath else {
            throw TestFailure("openssl is not installed (scripts/test installs it with apt-get)")
        }
        return try await NIOThreadPool.singleton.runIfActive {
            let directory = FileManager.default.temporaryDirectory
                .appendingPathComponent("rfs-transport-tls-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            let certificate = directory.appendingPathComponent("cert.pem").path
            let key = directory.appendingPathComponent("key.pem").path

            let process = Process()
            process.executableURL = URL(fileURLWithPath: openssl)
            process.arguments = [
                "req", "-x509", "-newkey", "rsa:2048", "-nodes",
                "-keyout", key, "-out", certificate, "-days", "2",
                "-subj", "/CN=localhost",
                "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
            ]
            let errors = Pipe()
            process.standardError = errors
            process.standardOutput = FileHandle.nullDevice
            try process.run()
            let errorOutput = errors.fileHandleForReading.readDataToEndOfFile()
            process.waitUntilExit()
            guard process.terminationStatus == 0 else {
                throw TestFailure(
                    "openssl failed (\(process.terminationStatus)): \(String(decoding: errorOutput, as: UTF8.self))"
                )
            }
            return TestCertificate(directory: directory.path, certificatePath: certificate, privateKeyPath: key)
        }
    }

    func remove() {
        try? FileManager.default.removeItem(atPath: self.directory)
    }
}
