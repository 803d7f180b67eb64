import ArgumentParser

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

    /// The key from `--psk-file`, else `DEEPHAVEN_PSK`, trimmed; empty when neither gives one
    /// (the endpoint then refuses it, saying where a key comes from).
    func psk() throws -> String {
        let psk = try SecretSource.read(file: pskFile, variable: "DEEPHAVEN_PSK", describing: "pre-shared key")
        return psk?.trimmingCharacters(in: .whitespacesAndNewlines) ?? ""
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
