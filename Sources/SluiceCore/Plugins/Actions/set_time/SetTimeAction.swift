import Glibc

/// `set_time`: sets `field` to the time the action saw the event (the wall clock,
/// `CLOCK_REALTIME`, read per event; the header's receive time is monotonic, not a date):
/// `format=rfc3339` writes a UTC string with nanoseconds (`"2026-12-04T18:14:25.123456789Z"`),
/// `format=unixms` milliseconds since the epoch as a number.
public struct SetTimeAction: @unchecked Sendable {
    public enum Format: String, Sendable, CaseIterable { case rfc3339, unixms }
    static let field = Parameter.defaulted("field", .text, default: "timestamp", doc: "field (name or dotted path) to set")
    static let format = Parameter.choice("format", default: Format.rfc3339,
                                         doc: "rfc3339: UTC string with nanoseconds; unixms: milliseconds since the epoch, a number")
    public static let parameters = [field.doc, format.doc]
    static let textCapacity = 40

    let path: FieldPath
    let format: Format
    let editor: EventEditor
    let text: UnsafeMutableRawPointer
    /// Tests fix the clock; nil reads CLOCK_REALTIME.
    let fixedNanos: UInt64?

    public init(_ arguments: PluginArguments, maxEventBytes: Int, fixedNanos: UInt64? = nil) throws(PluginArgumentError) {
        try arguments.checkKnown(Self.parameters)
        self.init(path: try FieldPath(try arguments.value(Self.field), key: "field"), format: try arguments.value(Self.format),
                  maxEventBytes: maxEventBytes, fixedNanos: fixedNanos)
    }

    private init(path: FieldPath, format: Format, maxEventBytes: Int, fixedNanos: UInt64?) {
        self.path = path
        self.format = format
        self.fixedNanos = fixedNanos
        editor = EventEditor(maxEventBytes: maxEventBytes)
        text = .allocate(byteCount: SetTimeAction.textCapacity, alignment: 8)
    }

    public func forWorker() -> SetTimeAction {
        SetTimeAction(path: path, format: format, maxEventBytes: editor.scratchCapacity, fixedNanos: fixedNanos)
    }
    public func dispose() {
        editor.dispose()
        text.deallocate()
    }
    public func disposeShared() { path.dispose() }

    public func apply(context: inout ActionContext, counters: CounterBlock, pipeline: Int) -> Action.Verdict {
        guard context.event.has(EventFlags.object) else { return EventEditor.Outcome.notAnObject.verdict(counters: counters, pipeline: pipeline) }
        let nanos = fixedNanos ?? realtimeNanos()
        let value: UnsafeRawBufferPointer
        switch format {
        case .rfc3339: value = UnsafeRawBufferPointer(start: text, count: SetTimeAction.writeRFC3339(nanos, into: text))
        case .unixms: value = UnsafeRawBufferPointer(start: text, count: Digits.write(nanos / 1_000_000, into: text))
        }
        return editor.set(path, to: value, kind: format == .rfc3339 ? .string : .number, context: &context)
            .verdict(counters: counters, pipeline: pipeline)
    }

    /// `"YYYY-MM-DDTHH:MM:SS.nnnnnnnnnZ"` (quotes included, 32 bytes) for nanoseconds since the
    /// epoch, in UTC; the civil date from the day count as in Howard Hinnant's `civil_from_days`.
    static func writeRFC3339(_ nanos: UInt64, into out: UnsafeMutableRawPointer) -> Int {
        let seconds = Int(nanos / 1_000_000_000)
        let fraction = Int(nanos % 1_000_000_000)
        let days = seconds / 86_400
        let secondOfDay = seconds % 86_400
        let z = days + 719_468
        let era = z / 146_097
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let monthIndex = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * monthIndex + 2) / 5 + 1
        let month = monthIndex < 10 ? monthIndex + 3 : monthIndex - 9
        let year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0)
        out.storeBytes(of: 34, as: UInt8.self)
        Digits.write(year, width: 4, into: out + 1)
        out.storeBytes(of: 45, toByteOffset: 5, as: UInt8.self)
        Digits.write(month, width: 2, into: out + 6)
        out.storeBytes(of: 45, toByteOffset: 8, as: UInt8.self)
        Digits.write(day, width: 2, into: out + 9)
        out.storeBytes(of: 84, toByteOffset: 11, as: UInt8.self)
        Digits.write(secondOfDay / 3600, width: 2, into: out + 12)
        out.storeBytes(of: 58, toByteOffset: 14, as: UInt8.self)
        Digits.write(secondOfDay / 60 % 60, width: 2, into: out + 15)
        out.storeBytes(of: 58, toByteOffset: 17, as: UInt8.self)
        Digits.write(secondOfDay % 60, width: 2, into: out + 18)
        out.storeBytes(of: 46, toByteOffset: 20, as: UInt8.self)
        Digits.write(fraction, width: 9, into: out + 21)
        out.storeBytes(of: 90, toByteOffset: 30, as: UInt8.self)
        out.storeBytes(of: 34, toByteOffset: 31, as: UInt8.self)
        return 32
    }
}

extension SetTimeAction: ActionPlugin {
    public static let name = "set_time"
    public static let editsFields = true
    public static let summary = "set a field to the current time (RFC 3339 with nanoseconds, or Unix milliseconds)"
    public static func make(_ arguments: PluginArguments, _ setup: ActionSetup) throws(PluginArgumentError) -> SetTimeAction {
        try SetTimeAction(arguments, maxEventBytes: setup.maxEventBytes)
    }

    public var kind: Action.Kind { .setTime(self) }

    @inline(__always) public func run(_ event: Event, counters: CounterBlock, pipeline: Int, context: inout ActionContext) -> Action.Verdict {
        return apply(context: &context, counters: counters, pipeline: pipeline)
    }
}
