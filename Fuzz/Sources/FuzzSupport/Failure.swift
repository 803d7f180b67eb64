/// How a fuzz target reports a broken property: a trap with the reason, which libFuzzer records
/// as a crash (with the input saved as `crash-<sha1>`), exactly like a crash in the code under
/// test. The reason goes to stderr first so the log says which property failed.

public func fail(_ reason: @autoclosure () -> String, file: StaticString = #file, line: UInt = #line) -> Never {
    fatalError("fuzz property violated: \(reason())", file: file, line: line)
}

public func require(
    _ condition: Bool, _ reason: @autoclosure () -> String, file: StaticString = #file, line: UInt = #line
) {
    if !condition { fail(reason(), file: file, line: line) }
}
