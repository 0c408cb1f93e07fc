/// `modify`: sets a field of a decoded JSON event to a value, adding it when absent. The field
/// may be a dotted path (`modify:field=user.role,value=admin`): objects missing on the way are
/// created. A `value` may hold `${PATH}` substitutions of other fields
/// (`value=${user.name}@${host}`): a string field gives its contents, any other value its JSON
/// text; a missing field gives the empty string and is counted (`field_missing`). A `${` always
/// starts a substitution.
///
/// Events that are not decoded JSON objects (invalid, or an array/scalar), or where a value on
/// the path is not an object, pass unchanged and are counted (`modify_skipped`). Every object
/// gets the field: when the change does not fit the event's slot, or the object has more
/// members than `--max-fields`, the index grows and the event moves to a large slot if need be
/// (waiting for one to be free); only a change that would not fit `--max-event-size` leaves the
/// event unchanged (`modify_too_large`, logged).
public struct ModifyAction: @unchecked Sendable {
    static let field = Parameter.required("field", .text, doc: "field (name or dotted path) to set; objects on the way are created")
    static let value = Parameter.optional("value", .text,
                                          doc: "string value to set (quoted and escaped on output); `${PATH}` inserts another field's value")
    static let jsonValue = Parameter.optional("json-value", .text,
                                              doc: "raw JSON value to set instead of a string (`42`, `true`, `{\"a\":1}`), checked at start-up")
    public static let parameters = [field.doc, value.doc, jsonValue.doc]

    /// One piece of a `value` template: literal bytes (escaped, in `literals`) then, if any, a
    /// field whose value follows them.
    struct Piece {
        let literalStart: Int
        let literalLength: Int
        let field: FieldPath?
    }

    let path: FieldPath
    /// The encoded value when it has no substitution; with substitutions, the escaped literals.
    let value: UnsafeMutableRawBufferPointer
    let valueKind: JSONValueKind
    /// Substitutions: the template's pieces (nil: a constant value).
    let pieces: UnsafeMutablePointer<Piece>?
    let pieceCount: Int
    let editor: EventEditor
    /// This copy's room for a value built from the template.
    let buffer: UnsafeMutableRawPointer
    let bufferCapacity: Int

    public init(_ arguments: PluginArguments, maxEventBytes: Int = 1 << 20) throws(PluginArgumentError) {
        try arguments.checkKnown(Self.parameters)
        let field = try arguments.value(Self.field)
        let plain = try arguments.value(Self.value)
        let json = try arguments.value(Self.jsonValue)
        guard (plain == nil) != (json == nil) else { throw PluginArgumentError(key: nil, "modify needs exactly one of value= or json-value=") }
        var encoded: [UInt8]
        var kind = JSONValueKind.string
        var template: [(literal: [UInt8], field: String?)] = []
        if let plain {
            template = try ModifyAction.parseTemplate(plain)
            encoded = template.count == 1 && template[0].field == nil ? JSONText.quoted(plain) : template.flatMap(\.literal)
        } else {
            encoded = Array(json!.utf8)
            let fields = UnsafeMutablePointer<FieldEntry>.allocate(capacity: 1)
            defer { fields.deallocate() }
            let outcome = encoded.withUnsafeBytes { JSONScanner.scan($0, fields: fields, fieldCapacity: 1) }
            guard case .valid = outcome else { throw PluginArgumentError(key: "json-value", "'\(json!)' is not valid JSON") }
            kind = JSONText.kind(ofFirstByte: encoded.first(where: { $0 > 32 }) ?? 110)
        }
        var made: [Piece] = []
        if template.contains(where: { $0.field != nil }) {
            var start = 0
            for piece in template {
                var fieldPath: FieldPath? = nil
                if let name = piece.field {
                    do { fieldPath = try FieldPath(name) } catch {
                        for p in made { p.field?.dispose() }
                        throw PluginArgumentError(key: "value", "substitution ${\(name)}: \(error.message)")
                    }
                }
                made.append(Piece(literalStart: start, literalLength: piece.literal.count, field: fieldPath))
                start += piece.literal.count
            }
        }
        path = try FieldPath(field, key: "field")
        value = .allocate(byteCount: max(encoded.count, 1), alignment: 1)
        value.copyBytes(from: encoded)
        valueKind = kind
        pieceCount = made.count
        if made.isEmpty {
            pieces = nil
        } else {
            pieces = .allocate(capacity: made.count)
            pieces!.initialize(from: made, count: made.count)
        }
        (editor, buffer, bufferCapacity) = ModifyAction.room(maxEventBytes, substitutes: !made.isEmpty, literals: encoded.count)
    }

    /// The template's pieces: literal text (escaped for JSON) and the field after it, if any.
    static func parseTemplate(_ text: String) throws(PluginArgumentError) -> [(literal: [UInt8], field: String?)] {
        try FieldTemplate.pieces(text, key: "value").map { piece in
            (Array(JSONText.quoted(String(decoding: piece.literal, as: UTF8.self)).dropFirst().dropLast()), piece.field)
        }
    }

    private static func room(_ maxEventBytes: Int, substitutes: Bool, literals: Int) -> (EventEditor, UnsafeMutableRawPointer, Int) {
        // Substituted values come from one event, escaped at most twofold.
        let capacity = substitutes ? 2 * maxEventBytes + literals + 2 : 1
        return (EventEditor(maxEventBytes: maxEventBytes), .allocate(byteCount: capacity, alignment: 8), capacity)
    }

    private init(_ other: ModifyAction) {
        path = other.path
        value = other.value
        valueKind = other.valueKind
        pieces = other.pieces
        pieceCount = other.pieceCount
        (editor, buffer, bufferCapacity) = ModifyAction.room(other.editor.scratchCapacity, substitutes: other.pieces != nil,
                                                              literals: other.value.count)
    }

    public func forWorker() -> ModifyAction { ModifyAction(self) }

    /// Frees this copy's editor and buffer.
    public func dispose() {
        editor.dispose()
        buffer.deallocate()
    }

    /// Frees the path and value; worker copies share them, so only the definition's owner calls
    /// this, once no copy is in use.
    public func disposeShared() {
        path.dispose()
        value.deallocate()
        if let pieces {
            for i in 0..<pieceCount { pieces[i].field?.dispose() }
            pieces.deinitialize(count: pieceCount)
            pieces.deallocate()
        }
    }

    /// What became of one event.
    public enum Outcome { case changed, notAnObject, pathBlocked, waitForRoom, tooLarge }

    /// Sets the field through the `EventEditor` (room from the context; an index cut at
    /// `--max-fields` is first extended to every member). Missing substitutions are counted
    /// in `counters` when given.
    public func apply(_ event: Event, context: inout ActionContext, counters: CounterBlock? = nil, pipeline: Int = 0) -> Outcome {
        guard context.event.has(EventFlags.object) else { return .notAnObject }
        var encoded = UnsafeRawBufferPointer(value)
        if let pieces {
            guard let built = build(pieces, context.event, counters: counters, pipeline: pipeline) else { return .tooLarge }
            encoded = built
        }
        switch editor.set(path, to: encoded, kind: valueKind, context: &context) {
        case .done, .missing: return .changed
        case .notAnObject: return .notAnObject
        case .pathBlocked: return .pathBlocked
        case .wait: return .waitForRoom
        case .tooLarge: return .tooLarge
        }
    }

    /// The template filled from `event` as a JSON string in `buffer`; nil when it outgrows it.
    func build(_ pieces: UnsafeMutablePointer<Piece>, _ event: Event, counters: CounterBlock?, pipeline: Int) -> UnsafeRawBufferPointer? {
        var writer = ScratchWriter(buffer, bufferCapacity)
        writer.put(34)
        for i in 0..<pieceCount {
            let piece = pieces[i]
            writer.put(UnsafeRawBufferPointer(start: value.baseAddress! + piece.literalStart, count: piece.literalLength))
            guard let field = piece.field else { continue }
            guard let (raw, kind) = EventEditor.lookup(event, field) else {
                counters?.add(.fieldMissing, 1, pipeline: pipeline)
                continue
            }
            if kind == .string {
                // Already escaped for a JSON string.
                writer.put(UnsafeRawBufferPointer(start: raw.baseAddress! + 1, count: raw.count - 2))
            } else {
                writer.putEscaped(raw)
            }
        }
        writer.put(34)
        return writer.overflowed ? nil : UnsafeRawBufferPointer(start: buffer, count: writer.count)
    }

    /// The field path, for messages.
    public var fieldName: String { path.text }
}

extension ModifyAction: ActionPlugin {
    public static let name = "modify"
    public static let editsFields = true
    public static let summary = "set a field (or dotted path, creating objects on the way) to a value, which may insert other fields with ${PATH}"
    public static func make(_ arguments: PluginArguments, _ setup: ActionSetup) throws(PluginArgumentError) -> ModifyAction {
        try ModifyAction(arguments, maxEventBytes: setup.maxEventBytes)
    }

    public var kind: Action.Kind { .modify(self) }

    @inline(__always) public func run(_ event: Event, counters: CounterBlock, pipeline: Int, context: inout ActionContext) -> Action.Verdict {
        switch apply(event, context: &context, counters: counters, pipeline: pipeline) {
        case .changed: return .pass
        case .notAnObject, .pathBlocked: counters.add(.modifySkipped, 1, pipeline: pipeline)
        case .waitForRoom: return .wait
        case .tooLarge:
            counters.add(.modifyTooLarge, 1, pipeline: pipeline)
            Log.warn("action modify", "pipeline slot \(pipeline): an event of \(context.event.header.pointee.usedLength) bytes with \(context.event.fieldCount) indexed fields cannot take field '\(fieldName)' within --max-event-size; it passes unchanged (counted as modify_too_large)")
        }
        return .pass
    }
}

extension Counter {
    public static let modifySkipped = Counter(plugin: ModifyAction.modifySkipped)
    public static let modifyTooLarge = Counter(plugin: ModifyAction.modifyTooLarge)
}

extension ModifyAction {
    static let modifySkipped = CounterSpec("modify_skipped", "Events modify could not edit: not decoded JSON objects.")
    static let modifyTooLarge = CounterSpec("modify_too_large", "Events modify left unchanged because the change would not fit max-event-size.")
    public static let counters = [modifySkipped, modifyTooLarge]
}
