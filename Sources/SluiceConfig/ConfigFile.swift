/// The generic content of a config file: global tunables and the pipelines, in file order.
public struct ConfigFile: Sendable, Equatable {
    /// Global tunables, named like the CLI flags (`pool-capacity`, `batch-size`).
    public var settings: [ConfigParam]
    /// In the order they appear in the file; never empty.
    public var pipelines: [PipelineSpec]

    public init(settings: [ConfigParam], pipelines: [PipelineSpec]) {
        self.settings = settings
        self.pipelines = pipelines
    }
}

extension ConfigFile {
    /// What a reload compares: content without source locations (moving a pipeline in the
    /// file or editing a comment changes nothing).
    public struct Difference: Equatable, Sendable {
        /// The top-level `settings:` differ (keys, values or their order).
        public var settingsChanged: Bool
        /// Pipelines of the new file whose content differs from the old one's, or that are new.
        public var changedPipelines: Set<String>
    }

    public func difference(from old: ConfigFile) -> Difference {
        func pairs(_ params: [ConfigParam]) -> [String] { params.map { "\($0.key)=\($0.value)" } }
        let before = Dictionary(old.pipelines.map { ($0.name, $0.content) }, uniquingKeysWith: { a, _ in a })
        return Difference(settingsChanged: pairs(settings) != pairs(old.settings),
                          changedPipelines: Set(pipelines.filter { before[$0.name] != $0.content }.map(\.name)))
    }
}

extension PipelineSpec {
    /// The spec without source locations.
    var content: PipelineSpec {
        func plain(_ params: [ConfigParam]) -> [ConfigParam] { params.map { ConfigParam(key: $0.key, value: $0.value) } }
        func plugin(_ p: PluginSpec) -> PluginSpec { PluginSpec(type: p.type, params: plain(p.params), origin: "") }
        return PipelineSpec(name: name, inputs: inputs.map(plugin), actions: actions.map(plugin), outputs: outputs.map(plugin), settings: plain(settings))
    }
}
