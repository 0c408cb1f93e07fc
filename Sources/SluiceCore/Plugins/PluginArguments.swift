/// What the docs (`sluice plugins`, the README table) print of one plugin parameter, and what
/// `checkKnown` checks; a `Parameter` declaration makes it (`doc`).
public struct ParameterDoc: Sendable {
    public let name: String
    public let summary: String
    public let defaultValue: String?
    public let required: Bool
    public let repeated: Bool
    /// The text it takes (`duration ≥ 10ms`, `raw / json`), when declared.
    public let kind: String?

    public init(_ name: String, _ summary: String, default defaultValue: String? = nil, required: Bool = false, repeated: Bool = false,
                kind: String? = nil) {
        self.name = name
        self.summary = summary
        self.defaultValue = defaultValue
        self.required = required
        self.repeated = repeated
        self.kind = kind
    }
}

/// A plugin parameter that could not be used, with the key so the caller can name its location.
public struct PluginArgumentError: Error, Sendable, CustomStringConvertible {
    public let key: String?
    public let message: String

    public init(key: String?, _ message: String) {
        self.key = key
        self.message = message
    }

    public var description: String { key.map { "\($0): \(message)" } ?? message }
}

/// The key=value pairs given to one plugin, read through typed accessors that reject unknown
/// keys and malformed values.
public struct PluginArguments: Sendable {
    public let plugin: String
    public private(set) var pairs: [(key: String, value: String)]

    public init(plugin: String, pairs: [(key: String, value: String)]) {
        self.plugin = plugin
        self.pairs = pairs
    }

    public func all(_ key: String) -> [String] { pairs.filter { $0.key == key }.map(\.value) }

    public func string(_ key: String) -> String? { pairs.last(where: { $0.key == key })?.value }

    /// The value of a declared parameter (its default when absent), or the error naming its key.
    public func value<Value>(_ parameter: Parameter<Value>) throws(PluginArgumentError) -> Value {
        try parameter.read(all(parameter.name), plugin)
    }

    /// The last value of `key`, which must be given and not empty (for plugins that read keys
    /// without a `Parameter` declaration).
    public func required(_ key: String) throws(PluginArgumentError) -> String {
        guard let v = string(key), !v.isEmpty else { throw Self.missing(key, plugin: plugin) }
        return v
    }

    static func missing(_ key: String, plugin: String) -> PluginArgumentError {
        PluginArgumentError(key: key, "\(plugin) needs \(key)=...")
    }

    /// Rejects keys the plugin does not declare, naming the ones it does.
    public func checkKnown(_ parameters: [ParameterDoc]) throws(PluginArgumentError) {
        let known = Set(parameters.map(\.name))
        for (key, _) in pairs where !known.contains(key) {
            let list = parameters.map(\.name).joined(separator: ", ")
            throw PluginArgumentError(key: key, "\(plugin) has no parameter '\(key)'" + (list.isEmpty ? " (it takes none)" : " (it takes: \(list))"))
        }
        for p in parameters where !p.repeated {
            if all(p.name).count > 1 { throw PluginArgumentError(key: p.name, "given more than once") }
        }
    }
}
