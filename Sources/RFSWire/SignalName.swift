#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Signal names as the wire carries them (`"SIGSEGV"`), and back: the worker and the client may
/// run on different systems, so the name, not the number, crosses the wire.
public enum SignalName {
    private static let table: [(String, Int32)] = [
        ("SIGHUP", SIGHUP), ("SIGINT", SIGINT), ("SIGQUIT", SIGQUIT), ("SIGILL", SIGILL), ("SIGTRAP", SIGTRAP),
        ("SIGABRT", SIGABRT), ("SIGBUS", SIGBUS), ("SIGFPE", SIGFPE), ("SIGKILL", SIGKILL), ("SIGUSR1", SIGUSR1),
        ("SIGSEGV", SIGSEGV), ("SIGUSR2", SIGUSR2), ("SIGPIPE", SIGPIPE), ("SIGALRM", SIGALRM), ("SIGTERM", SIGTERM),
        ("SIGCHLD", SIGCHLD), ("SIGCONT", SIGCONT), ("SIGSTOP", SIGSTOP), ("SIGTSTP", SIGTSTP), ("SIGTTIN", SIGTTIN),
        ("SIGTTOU", SIGTTOU), ("SIGURG", SIGURG), ("SIGXCPU", SIGXCPU), ("SIGXFSZ", SIGXFSZ), ("SIGVTALRM", SIGVTALRM),
        ("SIGPROF", SIGPROF), ("SIGWINCH", SIGWINCH), ("SIGSYS", SIGSYS),
    ]

    /// `"SIGSEGV"` for 11; `"SIG<n>"` for a number without a name here.
    public static func name(of number: Int32) -> String {
        table.first { $0.1 == number }?.0 ?? "SIG\(number)"
    }

    /// 11 for `"SIGSEGV"`; nil for a name this machine does not know.
    public static func number(of name: String) -> Int32? {
        if let entry = table.first(where: { $0.0 == name }) { return entry.1 }
        if name.hasPrefix("SIG"), let number = Int32(name.dropFirst(3)) { return number }
        return nil
    }

    /// What `strsignal` says ("Segmentation fault"), for the one line `rfs run` prints.
    public static func describe(_ number: Int32) -> String {
        guard let text = strsignal(number) else { return "signal \(number)" }
        return String(cString: text)
    }
}
