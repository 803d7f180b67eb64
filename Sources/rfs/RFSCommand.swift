import ArgumentParser

@main
struct RFSCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rfs",
        abstract: "Import Python modules on a remote worker straight from a local folder.",
        version: "0.1.0",
        subcommands: [ListCommand.self]
    )
}
