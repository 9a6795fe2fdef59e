/// The version printed by `lethe --version` and recorded in receipts.
public enum LetheVersion {
    public static let current = "0.1.0"
}
