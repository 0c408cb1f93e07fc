import SluiceConfig
import SluiceCore

/// `SpecParser.parse` on arbitrary text never crashes; a spec it accepts prints back (escaping
/// `\` and `,`) to a spec that parses to the same type and params; and the plugin it names is
/// then built (or refused with an error) as `sluice run` would.
enum SpecFuzzTarget {
    static func run(_ input: UnsafeRawBufferPointer) {
        let text = String(decoding: input, as: UTF8.self)
        let spec: PluginSpec
        do { spec = try SpecParser.parse(text) } catch {
            precondition(!error.message.isEmpty && error.spec == text, "an error without a message or naming another spec: \(error)")
            return
        }
        precondition(!spec.type.isEmpty && spec.type.utf8.allSatisfy { (97...122).contains($0) || (48...57).contains($0) || $0 == 95 },
                     "accepted type '\(spec.type)'")
        let printed = render(spec)
        do {
            let again = try SpecParser.parse(printed)
            precondition(again.type == spec.type && again.params == spec.params, "'\(text)' printed as '\(printed)' parses differently")
        } catch {
            preconditionFailure("'\(text)' printed as '\(printed)' does not parse: \(error)")
        }
        PluginBuilding.build(spec)
    }

    static func render(_ spec: PluginSpec) -> String {
        func escaped(_ s: String) -> String {
            s.replacingAll("\\", with: "\\\\").replacingAll(",", with: "\\,")
        }
        guard !spec.params.isEmpty else { return spec.type }
        return spec.type + ":" + spec.params.map { escaped($0.key) + "=" + escaped($0.value) }.joined(separator: ",")
    }
}

/// `YAMLConfigLoader.parse` on arbitrary text never crashes; an error has a message and, when
/// it has a position, a line and column from 1; an accepted file has named pipelines whose
/// plugins are then built (or refused) as `sluice run --config` would.
enum YAMLFuzzTarget {
    static func run(_ input: UnsafeRawBufferPointer) {
        let text = String(decoding: input, as: UTF8.self)
        let config: ConfigFile
        do { config = try YAMLConfigLoader.parse(text, file: "fuzz.yaml") } catch {
            precondition(!error.message.isEmpty, "an error without a message")
            if let location = error.location {
                precondition(location.line >= 1 && location.column >= 1, "error at \(location.line):\(location.column): \(error)")
            }
            return
        }
        precondition(!config.pipelines.isEmpty, "a config without pipelines was accepted")
        for pipeline in config.pipelines {
            precondition(!pipeline.name.isEmpty && !pipeline.inputs.isEmpty, "pipeline '\(pipeline.name)' accepted without a name or an input")
            for input in pipeline.inputs { PluginBuilding.build(input, as: .input) }
            for action in pipeline.actions { PluginBuilding.build(action, as: .action) }
            PluginBuilding.build(pipeline.output, as: .output)
        }
    }
}

/// Builds the plugin a spec names, as the CLI does; refusals are fine, crashes are not. Plugins
/// live as long as the node and keep their buffers (sized by max-event-size, kept small here),
/// so these targets run without leak detection.
enum PluginBuilding {
    enum Role: CaseIterable { case input, action, output }

    static func build(_ spec: PluginSpec) {
        for role in Role.allCases { build(spec, as: role) }
    }

    static func build(_ spec: PluginSpec, as role: Role) {
        let arguments = PluginArguments(plugin: spec.type, pairs: spec.params.map { ($0.key, $0.value) })
        do {
            switch role {
            case .input: _ = try InputDefinition.make(type: spec.type, arguments)
            case .action: _ = try Action.make(type: spec.type, arguments, maxEventBytes: 256)
            case .output: _ = try OutputDefinition.make(type: spec.type, arguments)
            }
        } catch {
            precondition(!error.message.isEmpty, "a refusal without a message")
        }
    }
}

extension String {
    /// Character by character, as `SpecParser` reads specs.
    func replacingAll(_ target: Character, with replacement: String) -> String {
        var result = ""
        for character in self { if character == target { result += replacement } else { result.append(character) } }
        return result
    }
}
