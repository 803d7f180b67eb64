import RFSWire
@main struct FuzzCorpus { static func main() { print(WireProtocol.version) } }
