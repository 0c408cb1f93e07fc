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
