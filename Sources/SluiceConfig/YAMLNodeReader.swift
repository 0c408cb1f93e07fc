import Yams

/// Walks the Yams node tree of a config file into specs, checking the layout (not the plugins' params).
struct YAMLNodeReader {
    let file: String

    /// A mapping entry whose key is a scalar, with its key already normalized where keys are normalized.
    private struct Entry {
        var key: String
        var keyNode: Node
        var value: Node
    }

    func configFile(from root: Node?) throws(ConfigError) -> ConfigFile {
        let startOfFile = SourceLocation(file: file, line: 1, column: 1)
        guard let root, !isNull(root) else {
            throw ConfigError(
                "config is empty: add a 'pipelines:' mapping with at least one pipeline", location: startOfFile)
        }
        var settings: [ConfigParam] = []
        var pipelines: [PipelineSpec]?
        for entry in try entries(of: root, what: "the config file", normalizingKeys: true) {
            switch entry.key {
            case "settings":
                settings = try params(of: entry.value, what: "'settings'")
            case "pipelines":
                pipelines = try self.pipelines(from: entry)
            default:
                throw ConfigError(
                    "unknown top-level key '\(entry.key)': expected 'settings' or 'pipelines'",
                    location: location(of: entry.keyNode))
            }
        }
        guard let pipelines else {
            throw ConfigError(
                "no 'pipelines': add a 'pipelines:' mapping with at least one pipeline",
                location: location(of: root) ?? startOfFile)
        }
        return ConfigFile(settings: settings, pipelines: pipelines)
    }

    private func pipelines(from entry: Entry) throws(ConfigError) -> [PipelineSpec] {
        let named = try entries(of: entry.value, what: "'pipelines'", normalizingKeys: false, keyNoun: "pipeline name")
        guard !named.isEmpty else {
            throw ConfigError(
                "'pipelines' is empty: define at least one pipeline with an input and an output",
                location: location(of: entry.keyNode))
        }
        var pipelines: [PipelineSpec] = []
        for pipeline in named {
            guard PipelineSpec.isValidName(pipeline.key) else {
                throw ConfigError(
                    "invalid pipeline name '\(pipeline.key)': use letters, digits, '_' and '-'",
                    location: location(of: pipeline.keyNode))
            }
            pipelines.append(try self.pipeline(from: pipeline))
        }
        return pipelines
    }

    private func pipeline(from named: Entry) throws(ConfigError) -> PipelineSpec {
        let name = named.key
        let nameLocation = location(of: named.keyNode)
        var settings: [ConfigParam] = []
        var inputs: [PluginSpec] = []
        var actions: [PluginSpec] = []
        var output: PluginSpec?
        var outputs: [PluginSpec] = []
        var outputsEntry: Entry?
        for entry in try entries(of: named.value, what: "pipeline '\(name)'", normalizingKeys: true) {
            switch entry.key {
            case "settings":
                settings = try params(of: entry.value, what: "'settings' of pipeline '\(name)'")
            case "input":
                inputs = try self.inputs(from: entry.value)
            case "actions":
                actions = try self.actions(from: entry.value)
            case "output":
                output = try self.output(from: entry.value)
            case "outputs":
                outputs = try self.outputs(from: entry.value)
                outputsEntry = entry
            default:
                throw ConfigError(
                    "unknown key '\(entry.key)' in pipeline '\(name)': expected settings, input, actions, output or outputs",
                    location: location(of: entry.keyNode))
            }
        }
        guard !inputs.isEmpty else {
            throw ConfigError(
                "pipeline '\(name)' has no input: add 'input:' with a 'type', e.g. 'type: file'",
                location: nameLocation)
        }
        if let output {
            if let outputsEntry {
                throw ConfigError("pipeline '\(name)' has both 'output' and 'outputs': list every output under 'outputs'",
                                  location: location(of: outputsEntry.keyNode))
            }
            outputs = [output]
        }
        guard !outputs.isEmpty else {
            throw ConfigError(
                "pipeline '\(name)' has no output: add 'output:' with a 'type', e.g. 'type: file'",
                location: nameLocation)
        }
        return PipelineSpec(
            name: name, inputs: inputs, actions: actions, outputs: outputs, settings: settings, location: nameLocation)
    }

    private func outputs(from node: Node) throws(ConfigError) -> [PluginSpec] {
        guard case .sequence(let items) = node else {
            if isNull(node) { return [] }
            throw ConfigError(
                "'outputs' must be a sequence, one '- type: ...' per output; found \(kind(of: node))",
                location: location(of: node))
        }
        return try plugins(from: items, role: "output")
    }

    private func inputs(from node: Node) throws(ConfigError) -> [PluginSpec] {
        switch node {
        case .mapping:
            return [try plugin(from: node, role: "input")]
        case .sequence(let items):
            return try plugins(from: items, role: "input")
        default:
            if isNull(node) { return [] }
            throw ConfigError(
                "'input' must be a mapping with a 'type', or a sequence of them; found a scalar",
                location: location(of: node))
        }
    }

    private func actions(from node: Node) throws(ConfigError) -> [PluginSpec] {
        guard case .sequence(let items) = node else {
            if isNull(node) { return [] }
            throw ConfigError(
                "'actions' must be a sequence, one '- type: ...' per action; found \(kind(of: node))",
                location: location(of: node))
        }
        return try plugins(from: items, role: "action")
    }

    private func output(from node: Node) throws(ConfigError) -> PluginSpec? {
        switch node {
        case .mapping:
            return try plugin(from: node, role: "output")
        case .sequence:
            throw ConfigError(
                "'output' must be one mapping with a 'type'; for several outputs write 'outputs:' with a sequence of them",
                location: location(of: node))
        default:
            if isNull(node) { return nil }
            throw ConfigError("'output' must be a mapping with a 'type'; found a scalar", location: location(of: node))
        }
    }

    private func plugins(from items: Node.Sequence, role: String) throws(ConfigError) -> [PluginSpec] {
        var plugins: [PluginSpec] = []
        for item in items {
            if case .sequence = item {
                throw nestedSequenceError(at: item)
            }
            plugins.append(try plugin(from: item, role: role))
        }
        return plugins
    }

    private func plugin(from node: Node, role: String) throws(ConfigError) -> PluginSpec {
        guard case .mapping = node else {
            throw ConfigError(
                "\(role) must be a mapping with a 'type'; found \(kind(of: node))", location: location(of: node))
        }
        let pluginLocation = location(of: node)
        var type: String?
        var rest: [Entry] = []
        for entry in try entries(of: node, what: role, normalizingKeys: true) {
            guard entry.key == "type" else {
                rest.append(entry)
                continue
            }
            guard case .scalar(let scalar) = entry.value else {
                throw ConfigError(
                    "'type' of \(role) must be a plugin name; found \(kind(of: entry.value))",
                    location: location(of: entry.value))
            }
            guard PluginSpec.isValidType(scalar.string) else {
                throw ConfigError(
                    "invalid plugin type '\(scalar.string)' for \(role): use lowercase letters, digits and '_'",
                    location: location(of: scalar.string.isEmpty ? entry.keyNode : entry.value))
            }
            type = scalar.string
        }
        guard let type else {
            throw ConfigError("\(role) has no 'type': add one, e.g. 'type: file'", location: pluginLocation)
        }
        let origin = pluginLocation.map { "\($0.file):\($0.line)" } ?? file
        return PluginSpec(type: type, params: try params(of: rest), location: pluginLocation, origin: origin)
    }

    private func params(of node: Node, what: String) throws(ConfigError) -> [ConfigParam] {
        try params(of: entries(of: node, what: what, normalizingKeys: true))
    }

    /// A scalar is one param; a sequence of scalars is the key repeated, one param per item.
    private func params(of entries: [Entry]) throws(ConfigError) -> [ConfigParam] {
        var params: [ConfigParam] = []
        for entry in entries {
            switch entry.value {
            case .scalar:
                params.append(try param(entry.key, entry.value, keyNode: entry.keyNode))
            case .sequence(let items):
                for item in items {
                    params.append(try param(entry.key, item, keyNode: entry.keyNode))
                }
            default:
                throw scalarExpectedError(key: entry.key, found: entry.value)
            }
        }
        return params
    }

    private func param(_ key: String, _ node: Node, keyNode: Node) throws(ConfigError) -> ConfigParam {
        switch node {
        case .scalar(let scalar):
            // An empty value has no text to point at; its key does.
            let valueLocation =
                scalar.string.isEmpty && scalar.style == .plain ? location(of: keyNode) : location(of: node)
            return ConfigParam(key: key, value: scalar.string, location: valueLocation)
        case .sequence:
            throw nestedSequenceError(at: node)
        default:
            throw scalarExpectedError(key: key, found: node)
        }
    }

    /// The entries of a mapping in file order (none for an empty value), refusing non-scalar keys and keys equal
    /// after normalizing.
    private func entries(
        of node: Node,
        what: String,
        normalizingKeys: Bool,
        keyNoun: String = "key"
    ) throws(ConfigError) -> [Entry] {
        if isNull(node) { return [] }
        guard case .mapping(let mapping) = node else {
            throw ConfigError(
                "\(what) must be a mapping of keys to values; found \(kind(of: node))", location: location(of: node))
        }
        var entries: [Entry] = []
        var firstLocations: [String: SourceLocation?] = [:]
        for (keyNode, value) in mapping {
            guard case .scalar(let scalar) = keyNode else {
                throw ConfigError(
                    "a \(keyNoun) must be a plain scalar; found \(kind(of: keyNode))", location: location(of: keyNode))
            }
            let key = normalizingKeys ? ConfigParam.normalizedKey(scalar.string) : scalar.string
            if let first = firstLocations[key] {
                let firstText = first.map { " (first at \($0))" } ?? ""
                throw ConfigError("duplicate \(keyNoun) '\(key)'\(firstText)", location: location(of: keyNode))
            }
            firstLocations[key] = location(of: keyNode)
            entries.append(Entry(key: key, keyNode: keyNode, value: value))
        }
        return entries
    }

    private func scalarExpectedError(key: String, found node: Node) -> ConfigError {
        ConfigError(
            "'\(key)' takes a scalar or a list of scalars; found \(kind(of: node)) (nested mappings are not supported)",
            location: location(of: node))
    }

    private func nestedSequenceError(at node: Node) -> ConfigError {
        ConfigError(
            "nested sequences are not supported: write the items as one flat list", location: location(of: node))
    }

    /// `key:` with nothing after it, `~` or `null`: treated as absent where a section is expected.
    private func isNull(_ node: Node) -> Bool {
        node.null != nil
    }

    private func kind(of node: Node) -> String {
        switch node {
        case .scalar: "a scalar"
        case .mapping: "a mapping"
        case .sequence: "a sequence"
        case .alias: "an alias"
        }
    }

    private func location(of node: Node) -> SourceLocation? {
        node.mark.map { SourceLocation(file: file, line: $0.line, column: $0.column) }
    }
}
