/// `hash`: writes the XXH64 hash (seed 0) of the value at `field` to `to`
/// (`hash:field=user.email,to=user_hash`): as a 16-digit lowercase hex string (`format=hex`,
/// the default, exact in every JSON reader) or as an unsigned decimal number (`format=number`;
/// readers that hold numbers as doubles round values past 2^53). Strings are hashed by their
/// unescaped UTF-8 contents (`"é"` and `"\u00e9"` hash the same), other values by their JSON text.
///
/// An event without the field passes unchanged (`field_missing`).
public struct HashAction: @unchecked Sendable {
    public enum Format: String, Sendable, CaseIterable { case hex, number }
    static let field = Parameter.required("field", .text, doc: "field (name or dotted path) whose value is hashed")
    static let to = Parameter.required("to", .text, doc: "where the hash goes (name or dotted path); may be the field itself")
    static let format = Parameter.choice("format", default: Format.hex, doc: "hex: a 16-digit string; number: an unsigned 64-bit number")
    public static let parameters = [field.doc, to.doc, format.doc]

    let field: FieldPath
    let to: FieldPath
    let format: Format
    let editor: EventEditor
    /// This copy's room for an unescaped string, then the hash's text.
    let buffer: UnsafeMutableRawPointer
    let capacity: Int

    public init(_ arguments: PluginArguments, maxEventBytes: Int) throws(PluginArgumentError) {
        try arguments.checkKnown(Self.parameters)
        let field = try FieldPath(try arguments.value(Self.field), key: "field")
        let to: FieldPath
        do { to = try FieldPath(try arguments.value(Self.to), key: "to") } catch {
            field.dispose()
            throw error
        }
        self.init(field: field, to: to, format: try arguments.value(Self.format), maxEventBytes: maxEventBytes)
    }

    private init(field: FieldPath, to: FieldPath, format: Format, maxEventBytes: Int) {
        self.field = field
        self.to = to
        self.format = format
        editor = EventEditor(maxEventBytes: maxEventBytes)
        capacity = maxEventBytes + 32
        buffer = .allocate(byteCount: capacity, alignment: 8)
    }

    public func forWorker() -> HashAction { HashAction(field: field, to: to, format: format, maxEventBytes: editor.scratchCapacity) }
    public func dispose() {
        editor.dispose()
        buffer.deallocate()
    }
    public func disposeShared() {
        field.dispose()
        to.dispose()
    }

    public func apply(context: inout ActionContext, counters: CounterBlock, pipeline: Int) -> Action.Verdict {
        guard context.event.has(EventFlags.object) else { return EventEditor.Outcome.notAnObject.verdict(counters: counters, pipeline: pipeline) }
        guard let (value, kind) = EventEditor.lookup(context.event, field) else {
            counters.add(.fieldMissing, 1, pipeline: pipeline)
            return .pass
        }
        var hashed = value
        if kind == .string {
            hashed = UnsafeRawBufferPointer(start: value.baseAddress! + 1, count: value.count - 2)
            if memchr(hashed.baseAddress!, 92, hashed.count) != nil {
                hashed = UnsafeRawBufferPointer(start: buffer, count: StringUnescaper.unescape(hashed, into: buffer, capacity: capacity))
            }
        }
        let text = HashAction.write(XXHash64.hash(hashed), format, into: buffer)
        return editor.set(to, to: text, kind: format == .hex ? .string : .number, context: &context)
            .verdict(counters: counters, pipeline: pipeline)
    }

    /// The hash as JSON at `out` (room for 22 bytes).
    static func write(_ hash: UInt64, _ format: Format, into out: UnsafeMutableRawPointer) -> UnsafeRawBufferPointer {
        switch format {
        case .hex:
            out.storeBytes(of: 34, as: UInt8.self)
            for i in 0..<16 {
                out.storeBytes(of: JSONText.hex(UInt8(truncatingIfNeeded: hash >> UInt64(60 - 4 * i)) & 15), toByteOffset: 1 + i, as: UInt8.self)
            }
            out.storeBytes(of: 34, toByteOffset: 17, as: UInt8.self)
            return UnsafeRawBufferPointer(start: out, count: 18)
        case .number:
            return UnsafeRawBufferPointer(start: out, count: Digits.write(hash, into: out))
        }
    }
}

import Glibc

extension HashAction: ActionPlugin {
    public static let name = "hash"
    public static let editsFields = true
    public static let summary = "write the XXH64 hash of a field's value to another field (hex string or number)"
    public static func make(_ arguments: PluginArguments, _ setup: ActionSetup) throws(PluginArgumentError) -> HashAction {
        try HashAction(arguments, maxEventBytes: setup.maxEventBytes)
    }

    public var kind: Action.Kind { .hash(self) }

    @inline(__always) public func run(_ event: Event, counters: CounterBlock, pipeline: Int, context: inout ActionContext) -> Action.Verdict {
        return apply(context: &context, counters: counters, pipeline: pipeline)
    }
}
