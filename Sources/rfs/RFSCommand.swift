import ArgumentParser
import RFSWorker

@main
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
        subcommands: [RunCommand.self, WorkerCommand.self, ServeCommand.self, InfoCommand.self, ListCommand.self]
    )
}
