/// One plugin parameter, declared once: its name, the text it takes, its default (or whether
/// it is required or repeatable) and its doc. A plugin keeps its declarations as static
/// properties, reads each with `try arguments.value(Self.count)`, and builds its `parameters`
/// list (what `checkKnown`, `sluice plugins` and the README table read) from their `doc`.
///
///     static let count = Parameter.int("count", default: 0, range: 0...Int.max, doc: "events to produce")
///     static let offsets = Parameter.optional("offsets", .path, doc: "file that keeps positions")
///     static let parameters = [count.doc, offsets.doc]
public struct Parameter<Value: Sendable>: Sendable {
    public let doc: ParameterDoc
    /// Every value given for the key, in order (empty when absent), to the value, or the error.
    let read: @Sendable (_ given: [String], _ plugin: String) throws(PluginArgumentError) -> Value

    public var name: String { doc.name }
}

extension Parameter {
    /// Takes `kind`; when absent, `value`.
    public static func defaulted(_ name: String, _ kind: ParameterKind<Value>, default value: Value, doc: String) -> Self {
        Parameter(doc: ParameterDoc(name, doc, default: kind.format(value), kind: kind.summary)) { (given, _) throws(PluginArgumentError) in
            guard let text = given.last else { return value }
            return try kind.value(of: text, key: name)
        }
    }

    /// Takes `kind`; nil when absent.
    public static func optional<Wrapped>(_ name: String, _ kind: ParameterKind<Wrapped>, doc: String) -> Self where Value == Wrapped? {
        Parameter(doc: ParameterDoc(name, doc, kind: kind.summary)) { (given, _) throws(PluginArgumentError) in
            guard let text = given.last else { return nil }
            return try kind.value(of: text, key: name)
        }
    }

    /// Takes `kind`; absent or empty, an error saying the plugin needs it.
    public static func required(_ name: String, _ kind: ParameterKind<Value>, doc: String) -> Self {
        Parameter(doc: ParameterDoc(name, doc, required: true, kind: kind.summary)) { (given, plugin) throws(PluginArgumentError) in
            guard let text = given.last, !text.isEmpty else { throw PluginArguments.missing(name, plugin: plugin) }
            return try kind.value(of: text, key: name)
        }
    }

    /// May be given several times; every value takes `kind`. With `required`, at least one
    /// must be given and none may be empty, or `missing` is the error (default: the plugin
    /// needs it).
    public static func repeatable<Element>(_ name: String, _ kind: ParameterKind<Element>, required: Bool, missing: String? = nil,
                                           doc: String) -> Self where Value == [Element] {
        Parameter(doc: ParameterDoc(name, doc, required: required, repeated: true, kind: kind.summary)) { (given, plugin) throws(PluginArgumentError) in
            if required && (given.isEmpty || given.contains(where: \.isEmpty)) {
                throw missing.map { PluginArgumentError(key: name, $0) } ?? PluginArguments.missing(name, plugin: plugin)
            }
            var values: [Element] = []
            for text in given { values.append(try kind.value(of: text, key: name)) }
            return values
        }
    }
}

extension Parameter where Value == Bool {
    /// `true`/`yes`/`on`/`1` or `false`/`no`/`off`/`0`.
    public static func bool(_ name: String, default value: Bool, doc: String) -> Self {
        defaulted(name, .bool, default: value, doc: doc)
    }
}

extension Parameter where Value == Int {
    public static func int(_ name: String, default value: Int, range: ClosedRange<Int>, doc: String) -> Self {
        defaulted(name, .integer(range), default: value, doc: doc)
    }

    /// A duration in microseconds (`500us`, `10ms`, `2s`, `5m`, `0`); see `ParameterKind.duration`.
    public static func duration(_ name: String, default text: String, atLeast minimum: String? = nil, example: String? = nil,
                                doc: String) -> Self {
        let kind = ParameterKind.duration(atLeast: minimum, example: example)
        return defaulted(name, kind, default: kind.declared(text, name), doc: doc)
    }

    /// A size in bytes (`4096`, `64KiB`, `16MiB`); see `ParameterKind.size`.
    public static func size(_ name: String, default text: String, atLeast minimum: String? = nil, example: String? = nil,
                            expecting noun: String = "a size", doc: String) -> Self {
        let kind = ParameterKind.size(atLeast: minimum, example: example, expecting: noun)
        return defaulted(name, kind, default: kind.declared(text, name), doc: doc)
    }
}

extension Parameter where Value: RawRepresentable & CaseIterable & Sendable, Value.RawValue == String {
    /// One of the enum's raw values.
    public static func choice(_ name: String, default value: Value, doc: String) -> Self {
        defaulted(name, .choice, default: value, doc: doc)
    }
}

/// Why a text is not a value of a kind: the message, without the key.
struct ParameterMismatch: Error {
    let message: String
}

/// The text a parameter takes and how it becomes a value. `summary` is how the docs name it
/// (`duration ≥ 10ms`, `raw / json`); `format` prints a value as a user would write it.
public struct ParameterKind<Value: Sendable>: Sendable {
    public let summary: String
    let parse: @Sendable (String) throws(ParameterMismatch) -> Value
    let format: @Sendable (Value) -> String

    init(summary: String, format: @escaping @Sendable (Value) -> String = { "\($0)" },
         parse: @escaping @Sendable (String) throws(ParameterMismatch) -> Value) {
        self.summary = summary
        self.parse = parse
        self.format = format
    }

    /// A kind whose only error is "expected `expected`, got '<text>'".
    init(summary: String, expected: String, format: @escaping @Sendable (Value) -> String = { "\($0)" },
         parse: @escaping @Sendable (String) -> Value?) {
        self.init(summary: summary, format: format) { (text: String) throws(ParameterMismatch) in
            guard let value = parse(text) else { throw ParameterMismatch(message: "expected \(expected), got '\(text)'") }
            return value
        }
    }

    func value(of text: String, key: String) throws(PluginArgumentError) -> Value {
        do { return try parse(text) } catch { throw PluginArgumentError(key: key, error.message) }
    }

    /// A value written in a declaration (a default), which must parse.
    func declared(_ text: String, _ name: String) -> Value {
        do { return try parse(text) } catch { preconditionFailure("parameter \(name): '\(text)' is not a valid \(summary)") }
    }
}

extension ParameterKind where Value == Bool {
    public static var bool: Self {
        ParameterKind(summary: "true / false", expected: "true or false") { text in
            switch text.lowercased() {
            case "true", "yes", "on", "1": true
            case "false", "no", "off", "0": false
            default: nil
            }
        }
    }
}

extension ParameterKind where Value == Int {
    public static func integer(_ range: ClosedRange<Int>) -> Self {
        let summary = range.upperBound == Int.max ? "integer ≥ \(range.lowerBound)" : "integer \(range.lowerBound)...\(range.upperBound)"
        return ParameterKind(summary: summary, expected: "an integer in \(range.lowerBound)...\(range.upperBound)") { text in
            Int(text).flatMap { range.contains($0) ? $0 : nil }
        }
    }

    /// Microseconds, from `500us`, `10ms`, `2s`, `5m` or `0`; at least `minimum` (a duration
    /// written the same way) when given. `example` completes the error ("such as 100ms").
    public static func duration(atLeast minimum: String? = nil, example: String? = nil) -> Self {
        let floor = minimum.map { Units.micros($0)! } ?? 0
        return ParameterKind(summary: "duration" + (minimum.map { " ≥ \($0)" } ?? ""),
                             expected: "a duration" + Self.bound(minimum, example), format: Units.durationText) { text in
            Units.micros(text).flatMap { $0 >= floor ? $0 : nil }
        }
    }

    /// Bytes, from `4096`, `64KiB`, `16MiB`; at least `minimum` when given. `noun` names what
    /// is expected in the error ("a size", "bytes per second").
    public static func size(atLeast minimum: String? = nil, example: String? = nil, expecting noun: String = "a size") -> Self {
        let floor = minimum.map { Units.bytes($0)! } ?? 0
        return ParameterKind(summary: noun == "a size" ? "size" + (minimum.map { " ≥ \($0)" } ?? "") : noun,
                             expected: noun + Self.bound(minimum, example), format: Units.sizeText) { text in
            Units.bytes(text).flatMap { $0 >= floor ? $0 : nil }
        }
    }

    private static func bound(_ minimum: String?, _ example: String?) -> String {
        (minimum.map { " of at least \($0)" } ?? "") + (example.map { " such as \($0)" } ?? "")
    }
}

extension ParameterKind where Value == String {
    /// Any text, the empty one included.
    public static var text: Self { ParameterKind(summary: "text") { (text: String) throws(ParameterMismatch) in text } }

    /// A file path: not empty.
    public static var path: Self {
        ParameterKind(summary: "path") { (text: String) throws(ParameterMismatch) in
            guard !text.isEmpty else { throw ParameterMismatch(message: "empty path") }
            return text
        }
    }
}

extension ParameterKind where Value == IPv4Endpoint {
    /// `ADDRESS:PORT` with an IPv4 address; port 0 only with `portZero` (a listener on any port).
    public static func address(example: String, portZero: Bool) -> Self {
        ParameterKind(summary: "IPv4 address:port", format: { "\($0.host):\($0.port)" }) { (text: String) throws(ParameterMismatch) in
            guard let (host, port) = SocketAddress.splitHostPort(text), portZero || port > 0 else {
                throw ParameterMismatch(message: "expected ADDRESS:PORT such as \(example), got '\(text)'")
            }
            guard SocketAddress.ipv4(host, port: port) != nil else { throw ParameterMismatch(message: "'\(host)' is not an IPv4 address") }
            return IPv4Endpoint(host: host, port: port)
        }
    }
}

extension ParameterKind where Value == Int {
    /// A file mode in octal (`0660`, `660`), at most 0o7777.
    public static var octalMode: Self {
        ParameterKind(summary: "octal mode", expected: "an octal file mode such as 0660", format: { "0" + String($0, radix: 8) }) { text in
            guard let mode = Int(text, radix: 8), mode >= 0, mode <= 0o7777 else { return nil }
            return mode
        }
    }
}

extension ParameterKind where Value: RawRepresentable & CaseIterable, Value.RawValue == String {
    /// One of the enum's raw values, listed in the docs and the error.
    public static var choice: Self {
        let names = Value.allCases.map(\.rawValue)
        let expected = names.count > 1 ? names.dropLast().joined(separator: ", ") + " or " + names.last! : names.joined()
        return ParameterKind(summary: names.joined(separator: " / "), expected: expected, format: \.rawValue) { Value(rawValue: $0) }
    }
}
