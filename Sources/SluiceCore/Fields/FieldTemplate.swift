/// A text with `${PATH}` substitutions of event fields (`modify`'s value, `nats`'s subject),
/// cut at start-up into pieces: literal bytes, then the field whose value follows them, if any.
/// A `${` always starts a substitution.
public enum FieldTemplate {
    /// The pieces of `text` (the last one has no field); errors name `key`.
    public static func pieces(_ text: String, key: String) throws(PluginArgumentError) -> [(literal: [UInt8], field: String?)] {
        var pieces: [(literal: [UInt8], field: String?)] = []
        let bytes = Array(text.utf8)
        var literalStart = 0
        var i = 0
        while i + 1 < bytes.count {
            guard bytes[i] == 36, bytes[i + 1] == 123 else { i += 1; continue }  // "${"
            guard let close = bytes[(i + 2)...].firstIndex(of: 125) else {
                throw PluginArgumentError(key: key, "'${' without a closing '}' in '\(text)' (write ${PATH} to insert a field)")
            }
            let name = String(decoding: bytes[(i + 2)..<close], as: UTF8.self)
            guard !name.isEmpty else { throw PluginArgumentError(key: key, "empty substitution '${}' in '\(text)'") }
            pieces.append((Array(bytes[literalStart..<i]), name))
            literalStart = close + 1
            i = close + 1
        }
        pieces.append((Array(bytes[literalStart...]), nil))
        return pieces
    }
}
