import SluiceConfig
import SluiceCore

/// Turns parsed specs (CLI or YAML) into validated pipeline definitions, reporting errors with
/// the file:line:column or the spec text and the key.
enum PipelineBuilder {
    static func settings(from params: [ConfigParam], into settings: inout NodeSettings) throws(ConfigError) {
        for p in params {
            guard let setting = Settings.named(p.key) else {
                throw ConfigError("unknown setting '\(p.key)' (known: \(Settings.all.map(\.name).joined(separator: ", ")))", location: p.location)
            }
            do { try setting.apply(&settings, p.value) } catch { throw ConfigError(error.message, location: p.location) }
        }
    }

    static func pipeline(_ spec: PipelineSpec, settings: NodeSettings) throws(ConfigError) -> PipelineDefinition {
        let inputs = try spec.inputs.map { (s: PluginSpec) throws(ConfigError) in
            try convert(s) { (a: PluginArguments) throws(PluginArgumentError) in try InputDefinition.make(type: s.type, a) }
        }
        let actions = try spec.actions.map { (s: PluginSpec) throws(ConfigError) in
            try convert(s) { (a: PluginArguments) throws(PluginArgumentError) in try Action.make(type: s.type, a, maxEventBytes: settings.pool.maxEventSizeBytes) }
        }
        let output = try convert(spec.output) { (a: PluginArguments) throws(PluginArgumentError) in try OutputDefinition.make(type: spec.output.type, a) }
        return PipelineDefinition(name: spec.name, inputs: inputs, actions: actions, output: output)
    }

    static func convert<T>(_ spec: PluginSpec, _ make: (PluginArguments) throws(PluginArgumentError) -> T) throws(ConfigError) -> T {
        let arguments = PluginArguments(plugin: spec.type, pairs: spec.params.map { ($0.key, $0.value) })
        do {
            return try make(arguments)
        } catch {
            let location = error.key.flatMap { spec.value($0)?.location } ?? spec.location
            if location == nil {
                throw ConfigError(error.description, spec: spec.origin)
            }
            throw ConfigError(error.description, location: location)
        }
    }
}
