public enum LetheCore { public static let version = "0.1.0" }
