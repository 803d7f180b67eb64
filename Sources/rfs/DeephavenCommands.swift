#if Deephaven
import Foundation
import Logging
import RFSClient
import RFSDeephaven
import RFSWire

/// The `--deephaven` paths of `serve`, `run` and `info`.
enum DeephavenCommands {
    static func endpoint(_ options: DeephavenOptions, caFile: String?) throws -> DeephavenEndpoint {
        do {
            return try DeephavenEndpoint(url: options.url ?? "", psk: try options.psk(), caFile: caFile)
        } catch {
            throw Console.fail("\(error)")
        }
    }

    /// Serves until Ctrl-C; exit 2 when the first attachment fails, 0 when interrupted.
    static func serve(
        _ endpoint: DeephavenEndpoint, directory: String, sources: SourceSet, names: [String], logger: Logger
    ) async throws {
        let client = DeephavenClient(endpoint: endpoint, logger: logger)
        let served = sources.indexes.first?.rootPath ?? directory
        let stop = StopSignal()
        let task = Task {
            try await client.serve(sources: sources, names: names, until: stop) { attachment, reconnected in
                Console.write(
                    "rfs serve: \(reconnected ? "reconnected; " : "")serving \(served) to the Deephaven server at \(endpoint.url) "
                        + "(plugin variable \(attachment.variable), connection id \(attachment.connectionID), "
                        + "top-level names: \(names.joined(separator: ", ")))\n",
                    to: .standardOutput)
            }
        }
        // Ctrl-C: clear our execution context and remove our plugin object, then exit 0; a
        // second Ctrl-C exits at once.
        let interrupts = await Interrupts.onSIGINT { stop.stop() }
        defer { interrupts.cancel() }
        do {
            try await task.value
        } catch {
            throw Console.fail("\(error)")
        }
        logger.info("stopped serving", metadata: ["server": "\(endpoint.url)"])
    }

    /// Runs the script; returns the exit status `python SCRIPT` would have. Ctrl-C exits 130 at
    /// once, saying the script may go on: Deephaven cannot cancel a running command.
    static func run(
        _ endpoint: DeephavenEndpoint, code: String, scriptPath: String, argv: [String], sources: SourceSet,
        names: [String], logger: Logger
    ) async throws -> Int32 {
        let client = DeephavenClient(endpoint: endpoint, logger: logger)
        let output = OutputWriter()
        let interrupts = await Interrupts.onSIGINT {
            Console.write(
                "rfs: interrupted; the Deephaven server cannot cancel a running command, so \(scriptPath) may still be running there\n",
                to: .standardError)
            _exit(130)
        }
        defer { interrupts.cancel() }
        let status: Int64
        do {
            status = try await client.run(code: code, path: scriptPath, argv: argv, sources: sources, names: names) { stream, text in
                await output.write(stream == .stdout ? .stdout : .stderr, text)
            }
        } catch {
            await output.flush()
            throw Console.fail("\(error)")
        }
        await output.flush()
        // As the operating system does with `sys.exit(n)`: the low 8 bits.
        return Int32(truncatingIfNeeded: status & 0xFF)
    }

    static func info(_ endpoint: DeephavenEndpoint, json: Bool, logger: Logger) async throws {
        let info: DeephavenInfo
        do {
            info = try await DeephavenClient(endpoint: endpoint, logger: logger).info()
        } catch {
            throw Console.fail("\(error)")
        }
        if json {
            Console.write(info.json.serialized() + "\n", to: .standardOutput)
            return
        }
        var lines = ["server: \(info.server) (Deephaven \(info.version ?? "version unknown"))"]
        if info.pluginInstalled {
            lines.append("plugin: installed (deephaven-plugin-python-remote-file-source \(info.pluginVersion ?? "?"))")
        } else {
            lines.append("plugin: not installed (\(info.pluginError ?? "cannot import deephaven.python_remote_file_source"))")
        }
        if info.objects.isEmpty { lines.append("plugin objects: none") }
        for object in info.objects {
            let names = object.names.isEmpty ? "(no names)" : object.names.joined(separator: ", ")
            lines.append("\(object.variable): connection id \(object.connectionID ?? "none"); names: \(names)")
        }
        Console.write(lines.joined(separator: "\n") + "\n", to: .standardOutput)
    }
}
#endif
