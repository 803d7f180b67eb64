import NIOCore

/// True when `host` names only the local machine: `localhost`, an address in 127.0.0.0/8,
/// `::1`, or an IPv4-mapped loopback address (`::ffff:127.0.0.1`); brackets are allowed.
///
/// Callers use it to decide whether a server may run without a token (DESIGN.md §3: only on
/// loopback and only when told so explicitly). It looks at the literal only and never resolves
/// names, so `0.0.0.0`, `::` and any DNS name other than `localhost` are not loopback.
public func isLoopback(host: String) -> Bool {
    var literal = Substring(host)
    if literal.hasPrefix("["), literal.hasSuffix("]") {
        literal = literal.dropFirst().dropLast()
    }
    if literal.lowercased() == "localhost" {
        return true
    }
    // SocketAddress parses only numeric literals (inet_pton), so nothing is looked up here.
    guard let address = try? SocketAddress(ipAddress: String(literal), port: 0) else {
        return false
    }
    switch address {
    case .v4(let v4):
        return UInt32(bigEndian: v4.address.sin_addr.s_addr) >> 24 == 127
    case .v6(let v6):
        let bytes = withUnsafeBytes(of: v6.address.sin6_addr) { Array($0) }
        if bytes[0..<15].allSatisfy({ $0 == 0 }) && bytes[15] == 1 {
            return true
        }
        let mappedPrefix: [UInt8] = Array(repeating: 0, count: 10) + [0xFF, 0xFF]
        return Array(bytes[0..<12]) == mappedPrefix && bytes[12] == 127
    case .unixDomainSocket:
        return false
    }
}
