/// `convert_log_level`: rewrites a log level field in one vocabulary, the syslog severities of
/// RFC 5424. Accepted (any case, spaces around ignored): `emergency` `emerg` `panic` (0),
/// `alert` (1), `critical` `crit` `fatal` (2), `error` `err` (3), `warning` `warn` (4),
/// `notice` (5), `informational` `info` (6), `debug` `trace` (7), and the numbers 0–7 as
/// strings or JSON numbers. Written as `style=number` (a JSON number), `lower`
/// (`emergency` `alert` `critical` `error` `warning` `notice` `informational` `debug`, file.d's
/// names) or `upper`. An unknown level, or a value that is neither a string nor a number,
/// is left as it is and counted (`convert_log_level_failed`).
public struct ConvertLogLevelAction: @unchecked Sendable {
    public enum Style: String, Sendable, CaseIterable { case number, lower, upper }

    static let field = Parameter.defaulted("field", .text, default: "level", doc: "field (name or dotted path) holding the level")
    static let style = Parameter.choice("style", default: Style.number, doc: "how the level is written: a number 0–7, or a lower- or upper-case name")
    public static let parameters = [field.doc, style.doc]

    let path: FieldPath
    public let style: Style
    /// The known spellings, packed (`LogLevels.table`), and per severity its JSON output.
    let table: UnsafeMutablePointer<(UInt128, UInt8)>
    let tableCount: Int
    let outputs: UnsafeMutableRawPointer
    let outputOffsets: UnsafeMutablePointer<(Int, Int)>
    /// This worker's editor (nil on the definition).
    let editor: EventEditor?

    /// Room for the rewritten top-level value (a nested level rewrites its whole object).
    let maxEventBytes: Int

    public init(_ arguments: PluginArguments, maxEventBytes: Int) throws(PluginArgumentError) {
        self.maxEventBytes = maxEventBytes
        try arguments.checkKnown(Self.parameters)
        path = try FieldPath(try arguments.value(Self.field))
        style = try arguments.value(Self.style)
        let rows = LogLevels.table
        table = .allocate(capacity: rows.count)
        table.initialize(from: rows, count: rows.count)
        tableCount = rows.count
        var bytes: [UInt8] = []
        outputOffsets = .allocate(capacity: 8)
        for severity in 0..<8 {
            let name = LogLevels.names[severity][0]
            let json: [UInt8] = switch style {
            case .number: Array(String(severity).utf8)
            case .lower: JSONText.quoted(name)
            case .upper: JSONText.quoted(name.uppercased())
            }
            outputOffsets[severity] = (bytes.count, json.count)
            bytes += json
        }
        outputs = .allocate(byteCount: bytes.count, alignment: 1)
        outputs.copyMemory(from: bytes, byteCount: bytes.count)
        editor = nil
    }

    private init(_ d: ConvertLogLevelAction, editor: EventEditor) {
        path = d.path
        style = d.style
        table = d.table
        tableCount = d.tableCount
        outputs = d.outputs
        outputOffsets = d.outputOffsets
        maxEventBytes = d.maxEventBytes
        self.editor = editor
    }

    /// A copy with its own editor, for one worker.
    public func forWorker() -> ConvertLogLevelAction {
        ConvertLogLevelAction(self, editor: EventEditor(maxEventBytes: maxEventBytes))
    }

    public func dispose() {
        editor?.dispose()
    }

    public func disposeShared() {
        path.dispose()
        table.deallocate()
        outputs.deallocate()
        outputOffsets.deallocate()
    }

    public func apply(_ event: Event, context: inout ActionContext) -> EditResult {
        guard let editor else { preconditionFailure("convert_log_level runs on a worker copy (forWorker())") }
        guard event.has(EventFlags.object) else { return .failed }
        guard let (value, kind) = EventEditor.lookup(event, path) else { return .unchanged }
        let text: UnsafeRawBufferPointer
        switch kind {
        case .string:
            // Level names hold no escapes worth decoding: an escaped one is simply unknown.
            text = UnsafeRawBufferPointer(rebasing: value.dropFirst().dropLast())
        case .number: text = value
        default: return .failed
        }
        guard let severity = LogLevels.severity(of: text, table: table, count: tableCount) else { return .failed }
        let (offset, count) = outputOffsets[severity]
        let json = UnsafeRawBufferPointer(start: outputs + offset, count: count)
        if value.count == count && Event.sameBytes(value.baseAddress!, json.baseAddress!, count) { return .unchanged }
        return EditResult(editor.set(path, to: json, kind: style == .number ? .number : .string, context: &context))
    }
}

extension ConvertLogLevelAction: ActionPlugin {
    public static let name = "convert_log_level"
    public static let editsFields = true
    public static let summary = "rewrite a log level as a syslog severity: a number 0-7 or a lower- or upper-case name (convert_log_level_failed)"
    public static func make(_ arguments: PluginArguments, _ setup: ActionSetup) throws(PluginArgumentError) -> ConvertLogLevelAction {
        try ConvertLogLevelAction(arguments, maxEventBytes: setup.maxEventBytes)
    }

    public var kind: Action.Kind { .convertLogLevel(self) }

    @inline(__always) public func run(_ event: Event, counters: CounterBlock, pipeline: Int, context: inout ActionContext) -> Action.Verdict {
        return apply(event, context: &context).verdict(failed: .convertLogLevelFailed, counters: counters, pipeline: pipeline)
    }
}

extension Counter {
    public static let convertLogLevelFailed = Counter(plugin: ConvertLogLevelAction.convertLogLevelFailed)
}

extension ConvertLogLevelAction {
    static let convertLogLevelFailed = CounterSpec("convert_log_level_failed", "Events convert_log_level could not convert: not decoded objects, or an unknown level (left unchanged).")
    public static let counters = [convertLogLevelFailed]
}
