/// A scraped `/metrics` page (Prometheus text exposition format 0.0.4), read back into samples
/// so tests assert on numbers, not on the exact text swift-prometheus happens to write.
///
/// Reads sample lines `name{label="value",...} value` (labels optional); `#` lines (HELP, TYPE)
/// and blank lines are skipped. Label values may hold the format's escapes (`\\`, `\"`, `\n`).
/// A line that is none of these is an error naming it, so a malformed page fails the test.
public struct PrometheusText: Sendable {
    public struct Sample: Sendable, Equatable {
        public var name: String
        public var labels: [String: String]
        public var value: Double
    }

    public struct ParseError: Error, CustomStringConvertible {
        public var description: String
    }

    public let samples: [Sample]
    /// The `# TYPE` of each metric family, e.g. `counter`, `gauge`, `histogram`.
    public let types: [String: String]

    public init(_ text: String) throws {
        var samples: [Sample] = []
        var types: [String: String] = [:]
        for line in text.split(separator: "\n", omittingEmptySubsequences: true) {
            if line.hasPrefix("# TYPE ") {
                let parts = line.split(separator: " ")
                if parts.count == 4 { types[String(parts[2])] = String(parts[3]) }
                continue
            }
            if line.hasPrefix("#") { continue }
            samples.append(try Self.sample(line))
        }
        self.samples = samples
        self.types = types
    }

    /// The value of the sample named `name` with exactly `labels`; nil when there is none.
    public func value(_ name: String, _ labels: [String: String] = [:]) -> Double? {
        samples.first { $0.name == name && $0.labels == labels }?.value
    }

    /// Every sample named `name`, whatever its labels.
    public func samples(named name: String) -> [Sample] {
        samples.filter { $0.name == name }
    }

    private static func sample(_ line: Substring) throws -> Sample {
        let fail = { (why: String) in ParseError(description: "\(why) in metrics line '\(line)'") }
        var index = line.startIndex
        while index < line.endIndex, line[index] != "{", line[index] != " " { index = line.index(after: index) }
        let name = String(line[..<index])
        guard !name.isEmpty else { throw fail("no metric name") }
        var labels: [String: String] = [:]
        if index < line.endIndex, line[index] == "{" {
            index = line.index(after: index)
            while index < line.endIndex, line[index] != "}" {
                guard let equals = line[index...].firstIndex(of: "=") else { throw fail("a label without '='") }
                let key = String(line[index..<equals]).trimmingSpacesAndCommas()
                index = line.index(after: equals)
                guard index < line.endIndex, line[index] == "\"" else { throw fail("an unquoted label value") }
                index = line.index(after: index)
                var value = ""
                while true {
                    guard index < line.endIndex else { throw fail("an unterminated label value") }
                    let character = line[index]
                    index = line.index(after: index)
                    if character == "\"" { break }
                    if character == "\\", index < line.endIndex {
                        let escaped = line[index]
                        index = line.index(after: index)
                        value.append(escaped == "n" ? "\n" : escaped)
                    } else {
                        value.append(character)
                    }
                }
                labels[key] = value
                while index < line.endIndex, line[index] == "," || line[index] == " " { index = line.index(after: index) }
            }
            guard index < line.endIndex else { throw fail("unterminated labels") }
            index = line.index(after: index)
        }
        let rest = line[index...].split(separator: " ")
        guard let first = rest.first, let value = Double(first) ?? Self.special(first) else {
            throw fail("no number")
        }
        return Sample(name: name, labels: labels, value: value)
    }

    private static func special(_ text: Substring) -> Double? {
        switch text {
        case "+Inf": .infinity
        case "-Inf": -.infinity
        case "NaN": .nan
        default: nil
        }
    }
}

extension String {
    fileprivate func trimmingSpacesAndCommas() -> String {
        String(drop { $0 == " " || $0 == "," }.reversed().drop { $0 == " " }.reversed())
    }
}
