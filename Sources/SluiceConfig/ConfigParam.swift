/// One `key=value` setting of a plugin or of the tunables, as the user wrote it.
///
/// A key given several values (a YAML sequence, or a CLI key repeated) becomes several params.
public struct ConfigParam: Sendable, Equatable {
    /// Normalized: `_` is written `-`, so `batch_size` and `batch-size` are one key.
    public var key: String
    /// The scalar text as written (`true`, `0x10` and `65_536` stay text); validation happens in the plugins.
    public var value: String
    /// Where the value stands in the config file (the key, when the value is left empty); nil for CLI specs.
    public var location: SourceLocation?

    public init(key: String, value: String, location: SourceLocation? = nil) {
        self.key = key
        self.value = value
        self.location = location
    }

    /// Keys are compared after this, so users may write `_` or `-` as they like.
    static func normalizedKey<Text: StringProtocol>(_ key: Text) -> String {
        String(key.map { $0 == "_" ? "-" : $0 })
    }
}
