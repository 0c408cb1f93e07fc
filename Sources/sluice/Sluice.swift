import ArgumentParser
import SluiceConfig
import SluiceCore
import Glibc

@main
struct Sluice: ParsableCommand {
    static let version = "0.1.0"

    static let configuration = CommandConfiguration(
        commandName: "sluice",
        abstract: "An event/log ingest node: files and sockets in, actions, outputs out, on io_uring.",
        subcommands: [Run.self, Check.self, Bench.self, Top.self, Plugins.self, Version.self],
        defaultSubcommand: Run.self
    )
}

/// The tuning flags, one per entry of `Settings.all`: ArgumentParser declares options only as
/// properties, so it hands over what it does not recognise and the table parses it; `--help`
/// lists the table under this argument.
struct TuningOptions: ParsableArguments {
    @Argument(parsing: .allUnrecognized,
              help: ArgumentHelp("any flag below; each is also a key of the config file's settings:", discussion: ReferenceTables.flagHelp(),
                                 valueName: "tuning-flag"))
    var flags: [String] = []

    func validate() throws {
        do { _ = try Settings.parseFlags(flags) } catch { throw ValidationError(error.message) }
    }

    /// The flags given, as (setting name, value), in the order given.
    func given() throws(ConfigError) -> [(name: String, value: String)] {
        do { return try Settings.parseFlags(flags) } catch { throw ConfigError(error.message) }
    }
}

/// What `run` and `check` share: the config file or the CLI specs, turned into a node.
struct PipelineOptions: ParsableArguments {
    @Option(name: .long, help: "YAML config file with named pipelines (see examples/).")
    var config: String?
    @Option(name: .customLong("input"), help: "input spec: TYPE or TYPE:key=value,key=value (repeatable)")
    var inputs: [String] = []
    @Option(name: .customLong("action"), help: "action spec, applied in the order given (repeatable)")
    var actions: [String] = []
    @Option(name: .customLong("output"), help: "output spec; repeatable: every output gets every event its route (if-field=…) matches")
    var outputs: [String] = []

    static let embeddedDefault = (input: "tcp:listen=127.0.0.1:5140", output: "stdout")

    /// Settings and pipelines, or a ConfigError for exit code 2.
    func load(tuning: TuningOptions) throws(ConfigError) -> (NodeSettings, [PipelineDefinition], usedDefault: Bool) {
        var settings = NodeSettings()
        var specs: [PipelineSpec] = []
        var usedDefault = false
        if let config {
            if !inputs.isEmpty || !actions.isEmpty || !outputs.isEmpty {
                throw ConfigError("use either --config or --input/--action/--output, not both")
            }
            let file = try YAMLConfigLoader.load(path: config)
            try PipelineBuilder.settings(from: file.settings, into: &settings)
            specs = file.pipelines
        } else {
            var inputTexts = inputs, outputTexts = outputs
            if inputs.isEmpty && actions.isEmpty && outputs.isEmpty {
                inputTexts = [Self.embeddedDefault.input]
                outputTexts = [Self.embeddedDefault.output]
                usedDefault = true
            }
            guard !inputTexts.isEmpty else { throw ConfigError("give at least one --input (or --config FILE)") }
            guard !outputTexts.isEmpty else { throw ConfigError("give at least one --output") }
            guard outputTexts.count <= PipelineDefinition.maxOutputs else {
                throw ConfigError("\(outputTexts.count) --output; a pipeline has at most \(PipelineDefinition.maxOutputs)")
            }
            specs = [PipelineSpec(name: "main",
                                  inputs: try inputTexts.map { (t: String) throws(ConfigError) in try SpecParser.parse(t) },
                                  actions: try actions.map { (t: String) throws(ConfigError) in try SpecParser.parse(t) },
                                  outputs: try outputTexts.map { (t: String) throws(ConfigError) in try SpecParser.parse(t) }, settings: [])]
        }
        for (name, value) in try tuning.given() {
            do { try Settings.named(name)!.apply(&settings, value) } catch { throw ConfigError("--\(name): \(error.message)") }
        }
        if specs.count > PipelineSlots.maxPipelines {
            throw ConfigError("\(specs.count) pipelines; a node runs at most \(PipelineSlots.maxPipelines)", location: specs[PipelineSlots.maxPipelines].location)
        }
        let pipelines = try specs.map { (s: PipelineSpec) throws(ConfigError) in try PipelineBuilder.pipeline(s, settings: settings) }
        try Self.checkListenAddresses(specs, pipelines)
        try Self.checkBufferDirectories(specs, pipelines)
        return (settings, pipelines, usedDefault)
    }

    /// Two outputs with a disk buffer in one directory would write each other's segments: refused.
    static func checkBufferDirectories(_ specs: [PipelineSpec], _ pipelines: [PipelineDefinition]) throws(ConfigError) {
        var seen: [String: String] = [:]
        for (i, pipeline) in pipelines.enumerated() {
            for (o, output) in pipeline.outputs.enumerated() where output.definition.buffer.isDisk {
                let directory = output.definition.buffer.directory
                let here = "pipeline \(pipeline.name), output \(o)"
                if let other = seen[directory] {
                    let location = specs[i].outputs[o].value("buffer-dir")?.location ?? specs[i].location
                    throw ConfigError("\(here): buffer-dir \(directory) is also the disk buffer of \(other); each output needs its own", location: location)
                }
                seen[directory] = here
            }
        }
    }

    /// Two tcp or http inputs on one address would both listen (SO_REUSEPORT) and the kernel would
    /// split the connections between them at random: refused.
    static func checkListenAddresses(_ specs: [PipelineSpec], _ pipelines: [PipelineDefinition]) throws(ConfigError) {
        var seen: [(host: String, port: UInt16, pipeline: String)] = []
        for (i, pipeline) in pipelines.enumerated() {
            for input in pipeline.inputs {
                let tcp: (name: String, host: String, port: UInt16)
                switch input {
                case .tcp(let t): tcp = ("tcp", t.host, t.port)
                case .http(let h): tcp = ("http", h.host, h.port)
                default: continue
                }
                if let other = seen.first(where: { $0.port == tcp.port && ($0.host == tcp.host || $0.host == "0.0.0.0" || tcp.host == "0.0.0.0") }) {
                    let whose = other.pipeline == pipeline.name ? "another input of this pipeline" : "pipeline \(other.pipeline)"
                    throw ConfigError("pipeline \(pipeline.name): input \(tcp.name) listens on \(tcp.host):\(tcp.port), as \(whose) does: the connections would be split between them at random",
                                      location: specs[i].location)
                }
                seen.append((tcp.host, tcp.port, pipeline.name))
            }
        }
    }
}

struct Run: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run pipelines until their inputs finish or SIGTERM/SIGINT.",
        discussion: """
        With neither --config nor specs, runs the embedded default pipeline: tcp on 127.0.0.1:5140 → stdout.
        Sizes take KiB/MiB suffixes, durations us/ms/s. Exit codes: 0 done, 1 runtime failure, 2 bad config or spec,
        3 a stalled worker with --on-stall exit. SIGHUP re-reads --config: an invalid or unchanged file changes nothing;
        changed pipelines are drained and restarted (added ones started, removed ones drained) while the others run on;
        changed node-wide settings drain the node and restart it in place (same PID) with the new config.
        Every tuning flag is also a key of the config file's settings: section, with the same name.
        """
    )
    @OptionGroup var pipeline: PipelineOptions
    @OptionGroup(title: "Tuning") var tuning: TuningOptions
    @Option(name: .customLong("log-level"), help: "debug, info, warn or error") var logLevel = "info"
    @Flag(name: .customLong("help-markdown"), help: "Print the tuning flags as the README's Markdown table and exit.") var helpMarkdown = false

    func run() throws {
        if helpMarkdown {
            print(ReferenceTables.flags(), terminator: "")
            return
        }
        guard let level = Log.Level(name: logLevel) else { fail("--log-level: expected debug, info, warn or error, got '\(logLevel)'") }
        Log.setUp(level: level)
        let loaded: (NodeSettings, [PipelineDefinition], usedDefault: Bool)
        do { loaded = try pipeline.load(tuning: tuning) } catch { fail(error.description) }
        if loaded.usedDefault {
            Log.info("node", "no --config and no specs: running the embedded default pipeline (tcp 127.0.0.1:5140 → stdout)")
        }
        let node: Node
        do { node = try Node(settings: loaded.0, pipelines: loaded.1) } catch { fail(error.description) }
        if let path = pipeline.config { node.reloadCheck = reloadCheck(path: path) }
        let code = node.run()
        if node.restartRequested { restartInPlace() }
        throw ExitCode(code)
    }

    /// SIGHUP: the config file parsed again; a change counts only if it passes what `sluice
    /// check` checks (with the same command-line flags on top). Node-wide settings changed: the
    /// node restarts in place; otherwise only the pipelines whose definition changed restart.
    func reloadCheck(path: String) -> () -> Node.ReloadDecision {
        var running = try? YAMLConfigLoader.load(path: path)
        return {
            let file: ConfigFile
            do { file = try YAMLConfigLoader.load(path: path) } catch { return .invalid("\(error)") }
            if file == running { return .unchanged }
            let loaded: (NodeSettings, [PipelineDefinition], usedDefault: Bool)
            do { loaded = try pipeline.load(tuning: tuning) } catch { return .invalid("\(error)") }
            // The definitions made here are freed here unless handed to the node, which then owns them.
            func discarded(_ decision: Node.ReloadDecision) -> Node.ReloadDecision {
                for definition in loaded.1 { definition.dispose() }
                return decision
            }
            do { _ = try Node(settings: loaded.0, pipelines: loaded.1) } catch { return discarded(.invalid("\(error)")) }
            guard let before = running else {
                running = file
                return discarded(.restart("the configuration changed"))
            }
            running = file
            let difference = file.difference(from: before)
            if difference.settingsChanged { return discarded(.restart("node-wide settings changed")) }
            return .pipelines(loaded.1, changed: difference.changedPipelines)
        }
    }

    /// The node drained for a new config: run this binary again with the same arguments, in
    /// this process (same PID, so a service manager keeps tracking it; it gets READY=1 again).
    func restartInPlace() -> Never {
        Log.info("node", "restarting in place")
        fflush(nil)
        var arguments = CommandLine.arguments.map { strdup($0) } + [nil]
        execv("/proc/self/exe", &arguments)
        Log.error("node", "cannot restart in place: execv /proc/self/exe: \(String(cString: strerror(errno))); exiting so the service manager restarts the node")
        Glibc.exit(1)
    }
}

struct Check: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Validate a config file (or specs) and explain any error; exit 2 when invalid.")
    @OptionGroup var pipeline: PipelineOptions
    @OptionGroup(title: "Tuning") var tuning: TuningOptions

    func run() throws {
        let loaded: (NodeSettings, [PipelineDefinition], usedDefault: Bool)
        do { loaded = try pipeline.load(tuning: tuning) } catch { fail(error.description) }
        do { _ = try Node(settings: loaded.0, pipelines: loaded.1) } catch { fail(error.description) }
        print("ok: \(loaded.1.count) pipeline(s): \(loaded.1.map(\.name).joined(separator: ", "))")
    }
}

struct Plugins: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "List every plugin with its parameters.")
    @Flag(name: .long, help: "Print the README's plugin table (Markdown).") var markdown = false

    func run() throws {
        print(markdown ? ReferenceTables.plugins() : ReferenceTables.pluginList(), terminator: "")
    }
}

struct Version: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Print the version.")
    func run() throws { print("sluice \(Sluice.version)") }
}

/// Prints a configuration error and exits 2.
func fail(_ message: String) -> Never {
    var bytes = Array("sluice: error: \(message)\n".utf8)
    _ = bytes.withUnsafeMutableBytes { Glibc.write(2, $0.baseAddress, $0.count) }
    exit(2)
}
