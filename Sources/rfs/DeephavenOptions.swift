import ArgumentParser
import Foundation

/// `--deephaven URL` on `run`, `serve` and `info`: talk to a Deephaven server's
/// remote-file-source plugin instead of an rfs worker. Always parsed, so a build without the
/// Deephaven trait says how to get it rather than "unknown option".
struct DeephavenOptions: ParsableArguments {
    @Option(
        name: .customLong("deephaven"),
        help: "Deephaven server URL (http://HOST:PORT or https://HOST:PORT): serve its remote-file-source plugin instead of an rfs worker.")
    var url: String?

    @Option(name: .customLong("psk-file"), help: "File holding the Deephaven pre-shared key (default: $DEEPHAVEN_PSK).")
    var pskFile: String?

    /// The key from `--psk-file`, else `DEEPHAVEN_PSK`; trimmed. Empty when neither gives one.
    func psk() throws -> String {
        if let pskFile {
            do {
                return try String(contentsOfFile: pskFile, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
            } catch {
                throw CLIError("cannot read the pre-shared key file \(pskFile): \(error.localizedDescription)")
            }
        }
        return ProcessInfo.processInfo.environment["DEEPHAVEN_PSK"]?.trimmingCharacters(in: .whitespacesAndNewlines) ?? ""
    }

    /// Exactly one of `--worker` and `--deephaven`, or (when `workerOptional`) neither.
    func validate(worker: String?, workerOptional: Bool = false) throws {
        if worker != nil, url != nil { throw ValidationError("--worker and --deephaven exclude each other") }
        if worker == nil, url == nil, !workerOptional { throw ValidationError("give --worker URL or --deephaven URL") }
        if url == nil, pskFile != nil { throw ValidationError("--psk-file needs --deephaven") }
    }

    #if !Deephaven
    /// This build has no gRPC stack.
    static var unavailable: CLIError {
        CLIError(
            "this rfs was built without Deephaven support; build it with `swift build -c release --traits Deephaven`")
    }
    #endif
}
