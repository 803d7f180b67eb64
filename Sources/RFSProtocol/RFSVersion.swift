/// The product version: `rfs --version`, and what worker and client say in `initialize`.
public enum RFSVersion {
    public static let current = "0.1.0"
}
