#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Ordering and joining helpers for the names and paths the walk builds by the thousand.
enum CodePointOrder {
    /// `a < b` by Unicode code points, i.e. by UTF-8 bytes — Python's `sorted()` order for `str`.
    /// (Swift's `<` on `String` compares canonical equivalents, which differs for decomposed names.)
    static func precedes(_ a: String, _ b: String) -> Bool {
        let fast = a.utf8.withContiguousStorageIfAvailable { left in
            b.utf8.withContiguousStorageIfAvailable { right -> Bool in
                let common = min(left.count, right.count)
                let order = common == 0 ? 0 : memcmp(left.baseAddress!, right.baseAddress!, common)
                return order != 0 ? order < 0 : left.count < right.count
            }
        }
        if let fast, let result = fast { return result }
        return a.utf8.lexicographicallyPrecedes(b.utf8)
    }

    /// `prefix + separator + name` in one allocation, or just `name` when `prefix` is empty.
    static func join(_ prefix: String, _ separator: String, _ name: String) -> String {
        guard !prefix.isEmpty else { return name }
        var joined = String()
        joined.reserveCapacity(prefix.utf8.count + separator.utf8.count + name.utf8.count)
        joined.append(prefix)
        joined.append(separator)
        joined.append(name)
        return joined
    }
}
