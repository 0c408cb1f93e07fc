import SluiceCore

/// The reference texts printed from the declarations: the plugin list (`sluice plugins`), the
/// README's plugin table (`sluice plugins --markdown`), the README's flag table (`sluice run
/// --help-markdown`) and the tuning flags in `--help`. The README holds the two tables between
/// `<!-- plugins:begin/end -->` and `<!-- flags:begin/end -->`, and a test keeps them equal.
enum ReferenceTables {
    static let roles: [(role: String, types: [(name: String, summary: String, parameters: [ParameterDoc])])] = [
        ("input", InputDefinition.types), ("action", Action.types), ("output", OutputDefinition.types),
    ]

    /// `name (kind, default: X, required, repeatable)`: what a parameter takes, in one phrase.
    static func marks(_ p: ParameterDoc) -> [String] {
        [p.kind, p.defaultValue.map { "default \($0)" }, p.required ? "required" : nil, p.repeated ? "repeatable" : nil].compactMap { $0 }
    }

    /// What every plugin of a role takes besides its own parameters: the condition of actions,
    /// the route of outputs (the same declaration, from the mechanics), and the buffer of outputs
    /// (declared once in `BufferOptions`, listed once here rather than under every output).
    static func common(_ role: String) -> [(summary: String, parameters: [ParameterDoc])] {
        switch role {
        case "action": [("a condition: only events it matches are given to the action; the others pass untouched", Action.commonParameters)]
        case "output": [("a route, the same condition: the output writes only the events it matches", Action.commonParameters),
                        ("a buffer: where the events it has not delivered yet wait (memory or disk)", BufferOptions.parameters)]
        default: []
        }
    }

    /// A plugin's own parameters, without the shared ones `common` lists.
    static func own(_ role: String, _ parameters: [ParameterDoc]) -> [ParameterDoc] {
        let shared = Set(common(role).flatMap { $0.parameters.map(\.name) })
        return parameters.filter { !shared.contains($0.name) }
    }

    static func pluginList() -> String {
        var text = ""
        for (role, types) in roles {
            for t in types {
                text += "\(role) \(t.name): \(t.summary)\n"
                for p in own(role, t.parameters) { text += line(p) }
            }
            for (summary, parameters) in common(role) {
                text += "every \(role) also takes \(summary):\n"
                for p in parameters { text += line(p) }
            }
        }
        return text
    }

    static func line(_ p: ParameterDoc) -> String { "    \(described(p, name: p.name))\n" }

    /// `NAME (marks): summary`, the name as given (plain, or as Markdown code).
    static func described(_ p: ParameterDoc, name: String) -> String {
        let marks = marks(p)
        return "\(name)\(marks.isEmpty ? "" : " (\(marks.joined(separator: ", ")))"): \(p.summary)"
    }

    static func plugins() -> String {
        var text = "| role | plugin | parameters |\n|---|---|---|\n"
        for (role, types) in roles {
            for t in types {
                let parameters = own(role, t.parameters).map { described($0, name: "`\($0.name)`") }
                let cell = ([t.summary] + parameters).joined(separator: "<br>")
                text += "| \(role) | `\(t.name)` | \(escaped(cell)) |\n"
            }
            for (summary, parameters) in common(role) {
                let cell = (["every \(role) also takes \(summary)"] + parameters.map { described($0, name: "`\($0.name)`") }).joined(separator: "<br>")
                text += "| \(role) | *(all)* | \(escaped(cell)) |\n"
            }
        }
        return text
    }

    static func flags() -> String {
        var text = "| flag / setting | default | meaning |\n|---|---|---|\n"
        for s in Settings.all {
            text += "| `\(escaped(usage(s)))` | \(escaped(s.defaultText)) | \(escaped(s.help)) |\n"
        }
        return text
    }

    /// The tuning flags as `--help` lists them: the flag, then its help wrapped below it
    /// (ArgumentParser indents this text by 8 columns and wraps it at 80).
    static func flagHelp() -> String {
        Settings.all.map { s in
            ([usage(s)] + wrapped("\(s.help) (default: \(s.defaultText))", width: 66).map { "    " + $0 }).joined(separator: "\n")
        }.joined(separator: "\n")
    }

    static func usage(_ s: Setting) -> String { "--\(s.name)" + (s.value.map { " \($0)" } ?? "") }

    /// A Markdown table cell: `|` would end it.
    static func escaped(_ text: String) -> String { text.split(separator: "|", omittingEmptySubsequences: false).joined(separator: "\\|") }

    static func wrapped(_ text: String, width: Int) -> [String] {
        var lines: [String] = []
        var line = ""
        for word in text.split(separator: " ") {
            if !line.isEmpty && line.count + 1 + word.count > width {
                lines.append(line)
                line = ""
            }
            line += (line.isEmpty ? "" : " ") + word
        }
        if !line.isEmpty { lines.append(line) }
        return lines
    }
}
