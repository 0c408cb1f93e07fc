/// Parses a command-line plugin spec, `type` or `type:key=value,key=value`, into a `PluginSpec`.
///
/// The type ends at the first `:`; each param is split at its first `=`, so values may hold `:` and `=`
/// (`listen=127.0.0.1:5140`, `equals=a=b`). Inside params `\,` is a literal comma and `\\` a literal
/// backslash; any other backslash is an error, so a mistyped escape never changes a value silently.
/// Keys may repeat (`file:path=/a.log,path=/b.log`) and are normalized like config-file keys.
public enum SpecParser {
    public static func parse(_ text: String) throws(ConfigError) -> PluginSpec {
        func failure(_ message: String) -> ConfigError {
            ConfigError(message, spec: text)
        }
        guard !text.isEmpty else {
            throw failure("empty plugin spec: write type or type:key=value,key=value")
        }
        let colon = text.firstIndex(of: ":")
        let type = text[..<(colon ?? text.endIndex)]
        guard !type.isEmpty else {
            throw failure("empty plugin type before ':': write type:key=value")
        }
        guard PluginSpec.isValidType(type) else {
            throw failure("invalid plugin type \"\(type)\": use lowercase letters, digits and '_'")
        }
        var params: [ConfigParam] = []
        if let colon {
            let parts = try splitParams(text[text.index(after: colon)...], failure: failure)
            for part in parts {
                guard let equals = part.text.firstIndex(of: "=") else {
                    throw failure("expected key=value in \"\(part.written)\"")
                }
                let key = part.text[..<equals]
                guard !key.isEmpty else {
                    throw failure("empty key in \"\(part.written)\": write key=value")
                }
                let value = String(part.text[part.text.index(after: equals)...])
                params.append(ConfigParam(key: ConfigParam.normalizedKey(key), value: value))
            }
        }
        return PluginSpec(type: String(type), params: params, origin: text)
    }

    /// One `key=value` part: as written (for error messages) and with its escapes resolved.
    private struct Part {
        var written: Substring
        var text: String
    }

    /// Splits at unescaped commas and resolves `\,` and `\\`.
    private static func splitParams(
        _ list: Substring,
        failure: (String) -> ConfigError
    ) throws(ConfigError) -> [Part] {
        var parts: [Part] = []
        var partStart = list.startIndex
        var text = ""
        var index = list.startIndex
        func finishPart(at end: Substring.Index) throws(ConfigError) {
            guard partStart < end else {
                throw failure("empty parameter (a stray ',' or a ':' with nothing after it): write key=value")
            }
            parts.append(Part(written: list[partStart..<end], text: text))
        }
        while index < list.endIndex {
            let character = list[index]
            if character == "," {
                try finishPart(at: index)
                index = list.index(after: index)
                partStart = index
                text = ""
                continue
            }
            if character == "\\" {
                let escaped = list.index(after: index)
                guard escaped < list.endIndex, list[escaped] == "," || list[escaped] == "\\" else {
                    let shown = escaped < list.endIndex ? "\\\(list[escaped])" : "\\"
                    throw failure("unknown escape \"\(shown)\": write \\\\ for a backslash, \\, for a comma")
                }
                text.append(list[escaped])
                index = list.index(after: escaped)
                continue
            }
            text.append(character)
            index = list.index(after: index)
        }
        try finishPart(at: list.endIndex)
        return parts
    }
}
