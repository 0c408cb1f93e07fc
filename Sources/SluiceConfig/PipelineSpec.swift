/// One named pipeline of a config file: where events come from, what is done to them, where they go.
public struct PipelineSpec: Sendable, Equatable {
    /// `[A-Za-z0-9_-]+`, unique within the file.
    public var name: String
    /// At least one: `input:` may hold one mapping or a sequence of them.
    public var inputs: [PluginSpec]
    /// In the order they run; may be empty.
    public var actions: [PluginSpec]
    /// At least one, in the order written (`output:` is a list of one).
    public var outputs: [PluginSpec]
    /// The first output (the only one of most pipelines).
    public var output: PluginSpec { outputs[0] }
    /// Per-pipeline tunables, overriding the global ones of the same name.
    public var settings: [ConfigParam]
    /// Where the pipeline's name stands in the config file.
    public var location: SourceLocation?

    public init(
        name: String,
        inputs: [PluginSpec],
        actions: [PluginSpec],
        outputs: [PluginSpec],
        settings: [ConfigParam],
        location: SourceLocation? = nil
    ) {
        self.name = name
        self.inputs = inputs
        self.actions = actions
        self.outputs = outputs
        self.settings = settings
        self.location = location
    }

    /// The pipeline-name rule: `[A-Za-z0-9_-]+`, so names work in metrics labels and admin URLs.
    static func isValidName(_ name: String) -> Bool {
        guard !name.isEmpty else { return false }
        return name.unicodeScalars.allSatisfy { scalar in
            ("a"..."z").contains(scalar) || ("A"..."Z").contains(scalar) || ("0"..."9").contains(scalar)
                || scalar == "_" || scalar == "-"
        }
    }

    public init(
        name: String, inputs: [PluginSpec], actions: [PluginSpec], output: PluginSpec, settings: [ConfigParam], location: SourceLocation? = nil
    ) {
        self.init(name: name, inputs: inputs, actions: actions, outputs: [output], settings: settings, location: location)
    }
}
