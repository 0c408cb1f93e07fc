/// One documented parameter of a plugin; the docs (`sluice plugins`, README) print these.
public struct ParameterDoc: Sendable {
    public let name: String
    public let summary: String
    public let defaultValue: String?
    public let required: Bool
    public let repeated: Bool

    public init(_ name: String, _ summary: String, default defaultValue: String? = nil, required: Bool = false, repeated: Bool = false) {
        self.name = name
        self.summary = summary
        self.defaultValue = defaultValue
        self.required = required
        self.repeated = repeated
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

    public func required(_ key: String) throws(PluginArgumentError) -> String {
        guard let v = string(key), !v.isEmpty else { throw PluginArgumentError(key: key, "\(plugin) needs \(key)=...") }
        return v
    }

    public func bool(_ key: String, default value: Bool) throws(PluginArgumentError) -> Bool {
        guard let v = string(key) else { return value }
        switch v.lowercased() {
        case "true", "yes", "on", "1": return true
        case "false", "no", "off", "0": return false
        default: throw PluginArgumentError(key: key, "expected true or false, got '\(v)'")
        }
    }

    public func int(_ key: String, default value: Int, range: ClosedRange<Int>) throws(PluginArgumentError) -> Int {
        guard let v = string(key) else { return value }
        guard let n = Int(v), range.contains(n) else {
            throw PluginArgumentError(key: key, "expected an integer in \(range.lowerBound)...\(range.upperBound), got '\(v)'")
        }
        return n
    }

    public func double(_ key: String, default value: Double) throws(PluginArgumentError) -> Double {
        guard let v = string(key) else { return value }
        guard let n = Double(v), n >= 0, n.isFinite else { throw PluginArgumentError(key: key, "expected a non-negative number, got '\(v)'") }
        return n
    }

    /// A duration in microseconds (`500us`, `10ms`, `2s`, `0`), at least `atLeast` when given.
    public func micros(_ key: String, default defaultText: String, atLeast minimum: (micros: Int, text: String)? = nil,
                       example: String? = nil) throws(PluginArgumentError) -> Int {
        let text = string(key) ?? defaultText
        guard let micros = Units.micros(text), micros >= (minimum?.micros ?? 0) else {
            let bound = minimum.map { " of at least \($0.text)" } ?? ""
            throw PluginArgumentError(key: key, "expected a duration\(bound)\(example.map { " such as \($0)" } ?? ""), got '\(text)'")
        }
        return micros
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
