/// `modify`: sets a top-level field of a decoded JSON event to a value, adding it when absent.
///
/// Events that are not decoded JSON objects (invalid, or an array/scalar) pass unchanged and are
/// counted (`modify_skipped`). Every object gets the field: when the change does not fit the
/// event's slot, or the object has more members than `--max-fields`, the index grows and the
/// event moves to a large slot if need be (waiting for one to be free); only a change that
/// would not fit `--max-event-size` leaves the event unchanged (`modify_too_large`, logged).
public struct ModifyAction: @unchecked Sendable {
    static let field = Parameter.required("field", .text, doc: "top-level field to set")
    static let value = Parameter.optional("value", .text, doc: "string value to set (quoted and escaped on output)")
    static let jsonValue = Parameter.optional("json-value", .text,
                                              doc: "raw JSON value to set instead of a string (`42`, `true`, `{\"a\":1}`), checked at start-up")
    public static let parameters = [field.doc, value.doc, jsonValue.doc]

    /// The key bytes (escaped for JSON) and the encoded value bytes.
    let key: UnsafeMutableRawBufferPointer
    /// The field name as plain UTF-8, for finding an existing member.
    let plainKey: UnsafeMutableRawBufferPointer
    let value: UnsafeMutableRawBufferPointer
    let valueKind: JSONValueKind

    public init(_ arguments: PluginArguments) throws(PluginArgumentError) {
        try arguments.checkKnown(Self.parameters)
        let field = try arguments.value(Self.field)
        guard !field.contains(".") else { throw PluginArgumentError(key: "field", "modify sets top-level fields only; '\(field)' is a path") }
        let plain = try arguments.value(Self.value)
        let json = try arguments.value(Self.jsonValue)
        guard (plain == nil) != (json == nil) else { throw PluginArgumentError(key: nil, "modify needs exactly one of value= or json-value=") }
        var encoded: [UInt8]
        var kind = JSONValueKind.string
        if let plain {
            encoded = JSONText.quoted(plain)
        } else {
            encoded = Array(json!.utf8)
            let fields = UnsafeMutablePointer<FieldEntry>.allocate(capacity: 1)
            defer { fields.deallocate() }
            let outcome = encoded.withUnsafeBytes { JSONScanner.scan($0, fields: fields, fieldCapacity: 1) }
            guard case .valid = outcome else { throw PluginArgumentError(key: "json-value", "'\(json!)' is not valid JSON") }
            kind = JSONText.kind(ofFirstByte: encoded.first(where: { $0 > 32 }) ?? 110)
        }
        let keyBytes = Array(JSONText.quoted(field).dropFirst().dropLast())
        key = .allocate(byteCount: keyBytes.count, alignment: 1)
        key.copyBytes(from: keyBytes)
        plainKey = .allocate(byteCount: field.utf8.count, alignment: 1)
        plainKey.copyBytes(from: Array(field.utf8))
        value = .allocate(byteCount: encoded.count, alignment: 1)
        value.copyBytes(from: encoded)
        valueKind = kind
    }

    /// Frees the key and value; worker copies share them (`forWorker()` returns the definition
    /// itself), so only the definition's owner calls this, once no copy is in use.
    public func disposeShared() {
        key.deallocate()
        plainKey.deallocate()
        value.deallocate()
    }

    /// What became of one event.
    public enum Outcome { case changed, notAnObject, waitForRoom, tooLarge }

    /// Sets the field. A change that does not fit asks the context for room (the index grows
    /// into the slot, or the event moves to a large slot); an index cut at `--max-fields` is
    /// first extended to every member, so re-encoding from it loses nothing.
    public func apply(_ event: Event, context: inout ActionContext) -> Outcome {
        guard event.has(EventFlags.object) else { return .notAnObject }
        var event = event
        if event.has(EventFlags.fieldsTruncated) {
            // Index room for every member plus a new one, and data room for the value; the
            // key, if the field is new, gets its room below like any other.
            let members = JSONScanner.memberCount(inObject: event.raw)
            switch context.makeRoom(fieldEntries: members + 1, dataBytes: value.count) {
            case .ready: event = context.event
            case .wait: return .waitForRoom
            case .tooLarge: return .tooLarge
            }
            event.indexAllMembers()
        }
        let existing = event.fieldIndex(named: UnsafeRawBufferPointer(plainKey))
        let entries = event.fieldCount + (existing == nil ? 1 : 0)
        let bytes = value.count + (existing == nil ? key.count : 0)
        if !event.hasRoom(fieldEntries: entries, dataBytes: bytes) {
            switch context.makeRoom(fieldEntries: entries, dataBytes: bytes) {
            case .ready: event = context.event
            case .wait: return .waitForRoom
            case .tooLarge: return .tooLarge
            }
        }
        let h = event.header
        let valueOffset = event.append(UnsafeRawBufferPointer(value))!
        if let i = existing {
            event.fields[i].valueOffset = valueOffset
            event.fields[i].valueLength = UInt32(value.count)
            event.fields[i].kind = valueKind
            event.fields[i].flags &= ~FieldEntry.valueHasEscapes
        } else {
            let keyOffset = event.append(UnsafeRawBufferPointer(key))!
            let i = Int(h.pointee.fieldCount)
            (event.fields + i).initialize(to: FieldEntry(keyOffset: keyOffset, keyLength: UInt32(key.count), valueOffset: valueOffset,
                                                           valueLength: UInt32(value.count), kind: valueKind, flags: 0))
            h.pointee.fieldCount += 1
        }
        h.pointee.flags |= EventFlags.modified
        return .changed
    }

    /// The field name, for messages.
    public var fieldName: String { String(decoding: UnsafeRawBufferPointer(plainKey), as: UTF8.self) }
}
