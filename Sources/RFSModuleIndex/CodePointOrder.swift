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

    /// `prefix + separator + name + suffix` in one allocation (`name + suffix` when `prefix` is
    /// empty): the walk builds two of these per module, so they are `memcpy`d into place rather
    /// than appended piece by piece.
    static func join(
        _ prefix: String, _ separator: StaticString, _ name: String, _ suffix: StaticString = ""
    ) -> String {
        if prefix.isEmpty && suffix.utf8CodeUnitCount == 0 { return name }
        let joined = prefix.utf8.withContiguousStorageIfAvailable { prefixBytes in
            name.utf8.withContiguousStorageIfAvailable { nameBytes in
                let separatorCount = prefixBytes.isEmpty ? 0 : separator.utf8CodeUnitCount
                let total = prefixBytes.count + separatorCount + nameBytes.count + suffix.utf8CodeUnitCount
                return String(unsafeUninitializedCapacity: total) { output in
                    var position = 0
                    func put(_ bytes: UnsafeBufferPointer<UInt8>) {
                        guard let source = bytes.baseAddress, !bytes.isEmpty else { return }
                        (output.baseAddress! + position).update(from: source, count: bytes.count)
                        position += bytes.count
                    }
                    put(prefixBytes)
                    put(UnsafeBufferPointer(start: separator.utf8Start, count: separatorCount))
                    put(nameBytes)
                    put(UnsafeBufferPointer(start: suffix.utf8Start, count: suffix.utf8CodeUnitCount))
                    return position
                }
            }
        }
        if let joined, let joined { return joined }
        return prefix.isEmpty ? "\(name)\(suffix)" : "\(prefix)\(separator)\(name)\(suffix)"
    }
}
