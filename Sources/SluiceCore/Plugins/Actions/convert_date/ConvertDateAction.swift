/// `convert_date`: rewrites a time field from one format to another.
///
/// `from`: `rfc3339` (`2024-01-02T03:04:05.123+03:00`, `Z`, a space for `T`, no zone: the
/// `timezone`), `rfc3164` (`Jan  2 03:04:05`, year of receipt), `unix` (seconds, with an
/// optional fraction), `unixms`, `unixns` (integers; strings or JSON numbers), or a
/// strftime-style LAYOUT (see `TimeLayout`). `to`: `rfc3339` (a string in `timezone`, the
/// fraction without trailing zeros), `unix`, `unixms`, `unixns` (JSON integers, rounded down).
/// `timezone`: `UTC` or a fixed offset (`+03:00`, `-0530`, `+03`); named zones (`Europe/Paris`)
/// and daylight saving time are not supported. A value that does not parse, or does not fit
/// the target format, is left as it is and counted (`convert_date_failed`).
public struct ConvertDateAction: @unchecked Sendable {
    public enum Target: String, Sendable, CaseIterable { case rfc3339, unix, unixms, unixns }

    static let field = Parameter.defaulted("field", .text, default: "time", doc: "field (name or dotted path) holding the time")
    static let from = Parameter.defaulted("from", .text, default: "rfc3339",
                                          doc: "rfc3339, rfc3164, unix, unixms, unixns, or a strftime layout such as %Y-%m-%d %H:%M:%S.%f %z")
    static let to = Parameter.choice("to", default: Target.unix, doc: "format written")
    static let timezone = Parameter.defaulted("timezone", .text, default: "UTC",
                                              doc: "UTC or a fixed offset such as +03:00: read for times without a zone, written by to=rfc3339")

    public static let parameters = [field.doc, from.doc, to.doc, timezone.doc]

    enum Source {
        case rfc3339
        case epoch(scale: Int)
        case layout
    }

    let path: FieldPath
    let source: Source
    let target: Target
    let offsetSeconds: Int64
    /// The compiled layout (rfc3164 is one), and month and weekday names packed.
    let layoutTokens: UnsafeMutablePointer<LayoutToken>
    let layout: LayoutParser
    let names: UnsafeMutablePointer<UInt32>
    let maxEventBytes: Int
    /// This worker's editor (nil on the definition).
    let editor: EventEditor?

    public init(_ arguments: PluginArguments, maxEventBytes: Int) throws(PluginArgumentError) {
        try arguments.checkKnown(Self.parameters)
        path = try FieldPath(try arguments.value(Self.field))
        target = try arguments.value(Self.to)
        let zone = try arguments.value(Self.timezone)
        guard let offset = DateFormats.parseTimezone(zone) else {
            throw PluginArgumentError(key: "timezone", "'\(zone)' is not UTC or a fixed offset such as +03:00 (named zones are not supported)")
        }
        offsetSeconds = offset
        let fromText = try arguments.value(Self.from)
        var compiled = TimeLayout.rfc3164
        switch fromText {
        case "rfc3339": source = .rfc3339
        case "unix": source = .epoch(scale: 0)
        case "unixms": source = .epoch(scale: 3)
        case "unixns": source = .epoch(scale: 9)
        case "rfc3164": source = .layout
        default:
            guard fromText.contains("%") else {
                throw PluginArgumentError(key: "from", "'\(fromText)' is not rfc3339, rfc3164, unix, unixms, unixns or a layout with % directives")
            }
            compiled = try TimeLayout(fromText)
            source = .layout
        }
        layoutTokens = .allocate(capacity: compiled.tokens.count)
        layoutTokens.initialize(from: compiled.tokens, count: compiled.tokens.count)
        layout = LayoutParser(tokens: layoutTokens, count: compiled.tokens.count, hasYear: compiled.hasYear)
        names = .allocate(capacity: 19)
        names.initialize(from: LayoutParser.monthNames + LayoutParser.dayNames, count: 19)
        self.maxEventBytes = maxEventBytes
        editor = nil
    }

    private init(_ d: ConvertDateAction, editor: EventEditor) {
        path = d.path
        source = d.source
        target = d.target
        offsetSeconds = d.offsetSeconds
        layoutTokens = d.layoutTokens
        layout = d.layout
        names = d.names
        maxEventBytes = d.maxEventBytes
        self.editor = editor
    }

    public func forWorker() -> ConvertDateAction {
        ConvertDateAction(self, editor: EventEditor(maxEventBytes: maxEventBytes))
    }

    public func dispose() {
        editor?.dispose()
    }

    public func disposeShared() {
        path.dispose()
        layoutTokens.deallocate()
        names.deallocate()
    }

    /// The instant in `text` per `from`, or nil.
    func parse(_ text: UnsafeRawBufferPointer, receivedSeconds: Int64) -> Instant? {
        switch source {
        case .rfc3339: DateFormats.parseRFC3339(text, defaultOffset: offsetSeconds)
        case .epoch(let scale): DateFormats.parseEpoch(text, scale: scale)
        case .layout: layout.parse(text, defaultOffset: offsetSeconds, receivedSeconds: receivedSeconds, months: names, days: names + 12)
        }
    }

    /// `t` written per `to` at `out` (`DateFormats.maxOutputBytes`), or nil when it does not fit.
    func format(_ t: Instant, into out: UnsafeMutableRawPointer) -> Int? {
        switch target {
        case .rfc3339: DateFormats.writeRFC3339(t, offset: offsetSeconds, into: out)
        case .unix: DateFormats.writeEpoch(t, scale: 0, into: out)
        case .unixms: DateFormats.writeEpoch(t, scale: 3, into: out)
        case .unixns: DateFormats.writeEpoch(t, scale: 9, into: out)
        }
    }

    public func apply(_ event: Event, context: inout ActionContext) -> EditResult {
        guard let editor else { preconditionFailure("convert_date runs on a worker copy (forWorker())") }
        guard event.has(EventFlags.object) else { return .failed }
        guard let (value, kind) = EventEditor.lookup(event, path) else { return .unchanged }
        let text: UnsafeRawBufferPointer
        switch kind {
        case .string: text = UnsafeRawBufferPointer(rebasing: value.dropFirst().dropLast())
        case .number: text = value
        default: return .failed
        }
        let received = Int64(event.header.pointee.receivedNanos / 1_000_000_000)
        guard let instant = parse(text, receivedSeconds: received) else { return .failed }
        // A tuple on the stack as the output buffer: no allocation.
        var buffer: (UInt64, UInt64, UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0, 0, 0)
        return withUnsafeMutableBytes(of: &buffer) { out in
            guard let n = format(instant, into: out.baseAddress!) else { return .failed }
            let json = UnsafeRawBufferPointer(start: out.baseAddress!, count: n)
            if value.count == n && Event.sameBytes(value.baseAddress!, json.baseAddress!, n) { return .unchanged }
            return EditResult(editor.set(path, to: json, kind: target == .rfc3339 ? .string : .number, context: &context))
        }
    }
}

extension ConvertDateAction: ActionPlugin {
    public static let name = "convert_date"
    public static let editsFields = true
    public static let summary = "rewrite a time field from rfc3339, rfc3164, epoch numbers or a strftime layout to rfc3339 or epoch numbers (convert_date_failed)"
    public static func make(_ arguments: PluginArguments, _ setup: ActionSetup) throws(PluginArgumentError) -> ConvertDateAction {
        try ConvertDateAction(arguments, maxEventBytes: setup.maxEventBytes)
    }

    public var kind: Action.Kind { .convertDate(self) }

    @inline(__always) public func run(_ event: Event, counters: CounterBlock, pipeline: Int, context: inout ActionContext) -> Action.Verdict {
        return apply(event, context: &context).verdict(failed: .convertDateFailed, counters: counters, pipeline: pipeline)
    }
}

extension Counter {
    public static let convertDateFailed = Counter(plugin: ConvertDateAction.convertDateFailed)
}

extension ConvertDateAction {
    static let convertDateFailed = CounterSpec("convert_date_failed", "Events convert_date could not convert: not decoded objects, or a value not in the from format (left unchanged).")
    public static let counters = [convertDateFailed]
}
