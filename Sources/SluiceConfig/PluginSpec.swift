/// A plugin instance as the user asked for it: its type name and its params, not yet validated.
public struct PluginSpec: Sendable, Equatable {
    /// Lowercase letters, digits and `_` (`json_decode`); never normalized.
    public var type: String
    /// In the order written.
    public var params: [ConfigParam]
    /// Where the plugin's mapping starts in the config file; nil for CLI specs.
    public var location: SourceLocation?
    /// What to show the user when naming this plugin: the CLI spec text, or `file:line`.
    public var origin: String

    public init(type: String, params: [ConfigParam], location: SourceLocation? = nil, origin: String) {
        self.type = type
        self.params = params
        self.location = location
        self.origin = origin
    }

    /// Every value given for `key` (written with `_` or `-`), in the order written.
    public func values(_ key: String) -> [ConfigParam] {
        let key = ConfigParam.normalizedKey(key)
        return params.filter { $0.key == key }
    }

    /// The value given for `key`; when it is given several times the last one wins, as with repeated CLI flags.
    public func value(_ key: String) -> ConfigParam? {
        let key = ConfigParam.normalizedKey(key)
        return params.last { $0.key == key }
    }

    /// The type-name rule shared by CLI specs and config files: `[a-z0-9_]+`.
    static func isValidType<Text: StringProtocol>(_ type: Text) -> Bool {
        guard !type.isEmpty else { return false }
        return type.unicodeScalars.allSatisfy { scalar in
            ("a"..."z").contains(scalar) || ("0"..."9").contains(scalar) || scalar == "_"
        }
    }
}
