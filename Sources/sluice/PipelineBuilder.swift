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
        // Each action that makes or holds events may have one event pending per level (the
        // worker's pending stack, `Worker.maxPendingEvents`).
        guard actions.count(where: { a in switch a.kind { case .split, .join: true; default: false } }) < PipelineDefinition.maxEmittingActions else {
            throw ConfigError("pipeline \(spec.name) has more than \(PipelineDefinition.maxEmittingActions - 1) split and join actions", location: spec.location)
        }
        guard spec.outputs.count <= PipelineDefinition.maxOutputs else {
            throw ConfigError("pipeline \(spec.name) has \(spec.outputs.count) outputs; a pipeline has at most \(PipelineDefinition.maxOutputs)", location: spec.location)
        }
        let outputs = try spec.outputs.map { (s: PluginSpec) throws(ConfigError) in
            try convert(s) { (a: PluginArguments) throws(PluginArgumentError) in
                let route = try Condition(a, maxEventBytes: settings.pool.maxEventSizeBytes)
                return PipelineOutput(try OutputDefinition.make(type: s.type, a.removingCondition()), route: route)
            }
        }
        var definition = PipelineDefinition(name: spec.name, inputs: inputs, actions: actions, outputs: outputs)
        definition.tuning = try tuning(spec.settings)
        return definition
    }

    /// A pipeline's own `settings:`: only the tunables of its output batching; they win over the
    /// node's value (flags and top-level settings) for this pipeline.
    static func tuning(_ params: [ConfigParam]) throws(ConfigError) -> PipelineTuning {
        var tuning = PipelineTuning()
        for p in params {
            guard PipelineTuning.names.contains(p.key) else {
                if Settings.named(p.key) != nil {
                    throw ConfigError("'\(p.key)' is node-wide: set it in the top-level settings: (a pipeline may set \(PipelineTuning.names.joined(separator: ", ")))", location: p.location)
                }
                throw ConfigError("unknown pipeline setting '\(p.key)' (a pipeline may set \(PipelineTuning.names.joined(separator: ", ")))", location: p.location)
            }
            var scratch = NodeSettings()
            do { try Settings.named(p.key)!.apply(&scratch, p.value) } catch { throw ConfigError(error.message, location: p.location) }
            switch p.key {
            case "batch-size": tuning.batchSize = scratch.batchSize
            case "flush-interval": tuning.flushIntervalMicros = scratch.flushIntervalMicros
            default: tuning.outputBufferBytes = scratch.outputBufferBytes
            }
        }
        return tuning
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
