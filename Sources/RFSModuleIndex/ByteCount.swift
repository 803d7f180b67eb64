/// Human-readable byte counts in messages: `1.5 GiB`, `300 KiB`, `12 bytes` (one decimal,
/// powers of 1024). Shared by the index's size errors and the manifest's.
public enum ByteCount {
    public static func text(_ bytes: Int64) -> String {
        let units: [(Int64, String)] = [(1 << 40, "TiB"), (1 << 30, "GiB"), (1 << 20, "MiB"), (1 << 10, "KiB")]
        for (size, name) in units where bytes >= size {
            let tenths = (bytes * 10 + size / 2) / size
            return tenths % 10 == 0 ? "\(tenths / 10) \(name)" : "\(tenths / 10).\(tenths % 10) \(name)"
        }
        return "\(bytes) bytes"
    }
}
