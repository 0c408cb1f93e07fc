import Glibc

/// `split`: one event per element of an array field; each is the original object with the array
/// replaced by that element (`{"a":1,"items":[x,y]}` → `{"a":1,"items":x}`, `{"a":1,"items":y}`),
/// in array order. The elements before the last become new events, handed on ahead of the
/// original (`ActionContext.emit`); the original becomes the last element. The new events carry
/// no offset of their own: the original's commits after every output acknowledged them.
/// Events not decoded as objects, without the field, or where it is not a non-empty array pass
/// unchanged (counted `split_skipped`). The rest of the object is written as received, or, when
/// an earlier action changed fields, as the outputs would write it. An array past a
/// `--max-fields` index is found: the members past the cut are indexed first (`EventEditor`).
public struct SplitAction: @unchecked Sendable {
    static let field = Parameter.required("field", .text, doc: "the array field (or dotted path) to split on")
    public static let parameters = [field.doc]

    public let path: FieldPath
    /// Per worker (`forWorker`): indexes the members past a cut index; its scratch (the largest
    /// event) is where the document of the last element is built, then copied over the original.
    var editor: EventEditor?
    var scratch: UnsafeMutableRawPointer? { editor?.scratch }
    let scratchCapacity: Int

    public init(_ arguments: PluginArguments, maxEventBytes: Int) throws(PluginArgumentError) {
        try arguments.checkKnown(Self.parameters)
        do { path = try FieldPath(try arguments.value(Self.field)) } catch { throw PluginArgumentError(key: "field", error.message) }
        scratchCapacity = maxEventBytes
    }

    public func forWorker() -> SplitAction {
        var copy = self
        copy.editor = EventEditor(maxEventBytes: scratchCapacity)
        return copy
    }

    public func dispose() { editor?.dispose() }

    public func disposeShared() { path.dispose() }

    /// Where the array sits: in field `top`'s value, `arrayStart..<arrayEnd` relative to it.
    struct Place {
        var top: Int
        var array: UnsafeRawBufferPointer
        var arrayStart: Int
        var arrayEnd: Int
        var documentBytes: Int
    }

    public func apply(_ event: Event, counters: CounterBlock, pipeline: Int, context: inout ActionContext) -> Action.Verdict {
        // The field may lie past the --max-fields cut: every member is indexed first (the event
        // may move to a longer slot). An event no slot can index whole stays cut: not found below.
        if let editor, context.event.has(EventFlags.fieldsTruncated), context.event.has(EventFlags.object),
           context.event.fieldIndex(named: path.first) == nil, editor.indexEveryMember(&context) == .wait {
            return .wait
        }
        let event = context.event
        guard let scratch, let place = locate(event) else {
            counters.add(.splitSkipped, 1, pipeline: pipeline)
            return .pass
        }
        let array = place.array
        var start = Int(context.cursor)
        if start == 0 {
            // First visit: the document must fit an event, and the array hold an element.
            start = JSONElements.skipSpace(array, 1)
            guard place.documentBytes <= min(scratchCapacity, context.maxDataBytes, Int(event.header.pointee.dataCapacity)),
                  start < array.count, array[start] != 93 else {
                counters.add(.splitSkipped, 1, pipeline: pipeline)
                return .pass
            }
        }
        let end = JSONElements.valueEnd(array, start)
        let after = JSONElements.skipSpace(array, end)
        let element = UnsafeRawBufferPointer(rebasing: array[start..<end])
        let bytes = place.documentBytes - array.count + element.count
        if after < array.count && array[after] == 44 {
            guard let made = context.takeEvent(dataBytes: bytes) else { return .wait }
            let n = write(event, place, element, into: made.data)
            assert(n == bytes, "split wrote a different length than it computed")
            fill(made, length: n, from: event)
            context.emit(made)
            context.cursor = UInt32(JSONElements.skipSpace(array, after + 1))
            return .emit
        }
        // The last element: the original event becomes it.
        let n = write(event, place, element, into: scratch)
        event.data.copyMemory(from: scratch, byteCount: n)
        event.clear([.modified, .fieldsTruncated])
        event.setRecord(length: n)
        index(event)
        context.cursor = 0
        return .pass
    }

    /// The array at `path` in a decoded object, and the length of the document with it.
    func locate(_ event: Event) -> Place? {
        guard event.has(EventFlags.decoded), event.has(EventFlags.object), let top = event.fieldIndex(named: path.first),
              let (array, kind) = path.lookup(event), kind == .array else { return nil }
        let value = event.value(top)
        let arrayStart = array.baseAddress! - value.baseAddress!
        var bytes: Int
        if event.has(EventFlags.modified) {
            // Re-encoded from the index: {"k":v,...}.
            bytes = 2 + max(event.fieldCount - 1, 0)
            for i in 0..<event.fieldCount { bytes += event.key(i).count + 3 + event.value(i).count }
        } else {
            bytes = Int(event.header.pointee.rawLength)
        }
        return Place(top: top, array: array, arrayStart: arrayStart, arrayEnd: arrayStart + array.count, documentBytes: bytes)
    }

    /// Writes the document with the array replaced by `element` at `out`; returns its length.
    func write(_ event: Event, _ place: Place, _ element: UnsafeRawBufferPointer, into out: UnsafeMutableRawPointer) -> Int {
        var p = 0
        @inline(__always) func put(_ bytes: UnsafeRawBufferPointer) {
            if bytes.count > 0 { (out + p).copyMemory(from: bytes.baseAddress!, byteCount: bytes.count) }
            p += bytes.count
        }
        @inline(__always) func put(_ byte: UInt8) {
            out.storeBytes(of: byte, toByteOffset: p, as: UInt8.self)
            p += 1
        }
        let value = event.value(place.top)
        let before = UnsafeRawBufferPointer(rebasing: value[0..<place.arrayStart])
        let behind = UnsafeRawBufferPointer(rebasing: value[place.arrayEnd...])
        if !event.has(EventFlags.modified) {
            let raw = event.raw
            let valueStart = value.baseAddress! - raw.baseAddress!
            put(UnsafeRawBufferPointer(rebasing: raw[0..<valueStart]))
            put(before)
            put(element)
            put(behind)
            put(UnsafeRawBufferPointer(rebasing: raw[(valueStart + value.count)...]))
            return p
        }
        put(123)
        for i in 0..<event.fieldCount {
            if i > 0 { put(44) }
            put(34)
            put(event.key(i))
            put(34)
            put(58)
            if i == place.top {
                put(before)
                put(element)
                put(behind)
            } else {
                put(event.value(i))
            }
        }
        put(125)
        return p
    }

    /// A new event holding one element's document, in the original's stream and pipeline.
    func fill(_ made: Event, length: Int, from event: Event) {
        made.fillDerived(length: length, from: event)
        index(made)
    }

    /// Indexes the (valid) object now in the event's raw bytes.
    func index(_ event: Event) {
        let valid = event.indexJSON()
        precondition(valid && event.has(.object), "split made an object that does not scan")
    }
}

extension SplitAction: ActionPlugin {
    public static let name = "split"
    public static let editsFields = true
    public static let summary = "one event per element of an array field, the rest of the object copied into each (split_skipped: not an object, no such field, not a non-empty array)"
    public static func make(_ arguments: PluginArguments, _ setup: ActionSetup) throws(PluginArgumentError) -> SplitAction {
        try SplitAction(arguments, maxEventBytes: setup.maxEventBytes)
    }

    public var kind: Action.Kind { .split(self) }

    @inline(__always) public func run(_ event: Event, counters: CounterBlock, pipeline: Int, context: inout ActionContext) -> Action.Verdict {
        return apply(event, counters: counters, pipeline: pipeline, context: &context)
    }
}

extension Counter {
    public static let splitSkipped = Counter(plugin: SplitAction.splitSkipped)
}

extension SplitAction {
    static let splitSkipped = CounterSpec("split_skipped", "Events split passed unchanged: not decoded, without the field, or the field not a non-empty array.")
    public static let counters = [splitSkipped]
}
