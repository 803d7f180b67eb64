import ArgumentParser
import Foundation
import NIOCore
import NIOPosix
import RFSProtocol

/// The entry point. Before anything else, Swift Concurrency's global executor becomes NIO's
/// event-loop threads: every remote import is a chain of hand-offs between socket I/O and async
/// code (and, on the worker, Python's thread), and running both on the same threads removes a
/// thread switch from most of those steps. Code that must block never runs on either (Python
/// and blocking reads have threads of their own), so the rule stays the same for both pools.
/// `rfs list` does no networking and skips the takeover, which would start NIO's threads.
///
/// One event loop by default (`RFS_EVENT_LOOPS` overrides): a client has one connection, and a
/// worker runs one script at a time, so a second loop buys no throughput, while every fetch that
/// crosses from one loop thread to the other pays a wake-up (measured: about 15% of a round trip).
@main
enum RFSMain {
    static let networkingCommands: Set<String> = ["run", "worker", "serve", "info"]

    static func main() async {
        if CommandLine.arguments.dropFirst().first == "host" {
            // In a run host, Python's main thread takes the signals (see PythonOwnerThread);
            // every other thread, started from here on by us or the Swift runtime, blocks the
            // ones a script or the worker sends, so they reach Python.
            var set = sigset_t()
            sigemptyset(&set)
            for signal in [SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGALRM, SIGCHLD, SIGPIPE] {
                sigaddset(&set, signal)
            }
            pthread_sigmask(SIG_BLOCK, &set, nil)
        }
        if let command = CommandLine.arguments.dropFirst().first, networkingCommands.contains(command) {
            let loops = ProcessInfo.processInfo.environment["RFS_EVENT_LOOPS"].flatMap(Int.init) ?? 1
            NIOSingletons.groupLoopCountSuggestion = max(1, loops)
            NIOSingletons.unsafeTryInstallSingletonPosixEventLoopGroupAsConcurrencyGlobalExecutor()
        }
        await RFSCommand.main()
    }
}

struct RFSCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rfs",
        abstract: "Run Python on a worker while importing modules straight from local folders.",
        discussion: """
            rfs run job.py --source ./src                      run on a private local worker
            rfs run job.py --source ./src --worker wss://h:8710  run on a remote worker
            rfs worker --listen 0.0.0.0:8710 --token-file T    serve as a worker
            rfs serve ./src --worker URL                       feed a worker's imports from ./src
            rfs list ./src                                     show what ./src would serve
            """,
        version: RFSVersion.current,
        subcommands: [
            RunCommand.self, WorkerCommand.self, ServeCommand.self, InfoCommand.self, ListCommand.self, HostCommand.self,
        ]
    )
}
