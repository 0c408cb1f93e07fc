import Glibc

/// `join`: multi-line records (Java and Go stack traces, Python tracebacks) made one event per
/// stream. An event whose string `field` matches `start` opens a record; the events after it in
/// the same stream whose field matches `continue` are folded into it: their field's text is
/// appended to the record's, after a newline (`\n` in the JSON string), and the folded events
/// leave the stream. Any other event closes the record: the record goes on first, then that
/// event. A record also goes on when it has been idle for `timeout`, when the node or its
/// pipeline stops, and before the next line once it holds `max-events` events or one more line
/// would make its field longer than `max-bytes` (that line then passes on its own, unless it
/// matches `start`); a half-joined record is never lost.
///
/// A stream is one source (file, connection) on the worker that processes it; each worker keeps
/// up to `max-streams` open records (a new one when all are open first closes the one idle the
/// longest). Events not decoded, without the field or where it is not a string never open or
/// continue a record (they close one). A field past a `--max-fields` index is read in the
/// event's text (`EventEditor.lookup`), and the first event of a record gets every member
/// indexed, so the record is written whole. The patterns see the field unescaped (a tab is a tab).
///
/// Commit: the events folded into a record are released, and their offsets committed, only
/// when the record is (every output acknowledged it), in stream order (`EventFlags.chained`).
public struct JoinAction: @unchecked Sendable {
    static let field = Parameter.defaulted("field", .text, default: "log", doc: "the string field (or dotted path) matched and joined")
    static let start = Parameter.required("start", .text, doc: "PCRE2 pattern of a record's first line")
    static let `continue` = Parameter.required("continue", .text, doc: "PCRE2 pattern of the lines that continue a record")
    static let maxEvents = Parameter.int("max-events", default: 1000, range: 2...100_000, doc: "events folded into one record at most")
    static let maxBytes = Parameter.size("max-bytes", default: "64KiB", atLeast: "16", doc: "length of a record's joined field at most (bytes as written in JSON)")
    static let timeout = Parameter.duration("timeout", default: "1s", atLeast: "1ms", doc: "an open record goes on after this long without a new line")
    static let maxStreams = Parameter.int("max-streams", default: 1024, range: 1...1_000_000,
                                          doc: "open records per worker; one more closes the one idle the longest")
    public static let parameters = [field.doc, start.doc, `continue`.doc, maxEvents.doc, maxBytes.doc, timeout.doc, maxStreams.doc]

    /// One open record: `head` is the event the record is written in (the first line's, maybe
    /// moved to a large slot), `tail` the slot of the last event folded in (the chain's end).
    struct Record {
        var sourceID: UInt32
        var head: Event
        var tail: Event
        var events: Int
        var bytes: Int
        var lastNanos: UInt64
    }

    /// One worker's open records (packed: `count` first entries), its regex match data, and
    /// the editor that indexes a record's first event past a cut index (its scratch also takes
    /// the unescaped line).
    struct State {
        var records: UnsafeMutablePointer<Record>
        var count = 0
        var startMatcher: Unmanaged<RegexMatcher>
        var continueMatcher: Unmanaged<RegexMatcher>
        var editor: EventEditor
        var scratch: UnsafeMutableRawPointer { editor.scratch }
    }

    public let path: FieldPath
    /// Retained until `disposeShared()`: unmanaged so the action stays plain memory.
    let startPattern: Unmanaged<PCRERegex>
    let continuePattern: Unmanaged<PCRERegex>
    public let maxEvents: Int
    public let maxBytes: Int
    public let timeoutNanos: UInt64
    public let maxStreams: Int
    let scratchCapacity: Int
    var state: UnsafeMutablePointer<State>?

    public init(_ arguments: PluginArguments, maxEventBytes: Int) throws(PluginArgumentError) {
        try arguments.checkKnown(Self.parameters)
        do { path = try FieldPath(try arguments.value(Self.field)) } catch { throw PluginArgumentError(key: "field", error.message) }
        do { startPattern = .passRetained(try PCRERegex.compile(try arguments.value(Self.start))) } catch let e as RegexError {
            throw PluginArgumentError(key: "start", "\(e)")
        } catch { throw error as! PluginArgumentError }
        do { continuePattern = .passRetained(try PCRERegex.compile(try arguments.value(Self.continue))) } catch let e as RegexError {
            throw PluginArgumentError(key: "continue", "\(e)")
        } catch { throw error as! PluginArgumentError }
        maxEvents = try arguments.value(Self.maxEvents)
        maxBytes = try arguments.value(Self.maxBytes)
        timeoutNanos = UInt64(try arguments.value(Self.timeout)) * 1000
        maxStreams = try arguments.value(Self.maxStreams)
        scratchCapacity = maxEventBytes
    }

    public func forWorker() -> JoinAction {
        var copy = self
        copy.state = .allocate(capacity: 1)
        copy.state!.initialize(to: State(records: .allocate(capacity: maxStreams),
                                         startMatcher: .passRetained(RegexMatcher(startPattern.takeUnretainedValue())),
                                         continueMatcher: .passRetained(RegexMatcher(continuePattern.takeUnretainedValue())),
                                         editor: EventEditor(maxEventBytes: scratchCapacity)))
        return copy
    }

    /// Frees a worker copy's table; its records were all handed on (the pipeline drained).
    public func dispose() {
        guard let state else { return }
        assert(state.pointee.count == 0, "join disposed with open records")
        state.pointee.records.deallocate()
        state.pointee.startMatcher.release()
        state.pointee.continueMatcher.release()
        state.pointee.editor.dispose()
        state.deallocate()
    }

    public func disposeShared() {
        startPattern.release()
        continuePattern.release()
        path.dispose()
    }

    /// Open records on this worker.
    public var openRecords: Int { state?.pointee.count ?? 0 }

    public func apply(_ event: Event, counters: CounterBlock, pipeline: Int, context: inout ActionContext) -> Action.Verdict {
        guard let s = state else { return .pass }
        let line = text(event, s)
        let sourceID = event.header.pointee.sourceID
        var r = 0
        while r < s.pointee.count && s.pointee.records[r].sourceID != sourceID { r += 1 }
        if r < s.pointee.count {
            let record = s.pointee.records + r
            if let line, record.pointee.events < maxEvents, record.pointee.bytes + 2 + line.escaped.count <= maxBytes,
               s.pointee.continueMatcher._withUnsafeGuaranteedRef({ $0.matches(line.plain) }) {
                switch fold(event, line.escaped, into: record, context: &context) {
                case .ready:
                    counters.add(.joined, 1, pipeline: pipeline)
                    return .held
                case .wait: return .wait
                case .tooLarge: break
                }
            }
            // The record ends before this event: it goes on first, then this event is seen again.
            context.emit(close(r, s))
            return .emit
        }
        guard let line, s.pointee.startMatcher._withUnsafeGuaranteedRef({ $0.matches(line.plain) }) else { return .pass }
        if s.pointee.count == maxStreams {
            var idlest = 0
            for i in 1..<s.pointee.count where s.pointee.records[i].lastNanos < s.pointee.records[idlest].lastNanos { idlest = i }
            context.emit(close(idlest, s))
            return .emit
        }
        // The record is re-encoded from its first event's index once a line is folded in, so
        // that index must hold every member: those past the --max-fields cut are indexed now (the
        // event may move to a longer slot). An event no slot can index whole stays cut, and out
        // of records. (The staging may reuse the scratch `line.plain` was unescaped into.)
        let bytes = line.escaped.count
        switch s.pointee.editor.indexEveryMember(&context) {
        case .done: break
        case .wait: return .wait
        default: return .pass
        }
        let head = context.event
        let framed = head.has(EventFlags.grown) ? context.event(head.header.pointee.origin) : head
        s.pointee.records[s.pointee.count] = Record(sourceID: sourceID, head: head, tail: framed, events: 1,
                                                    bytes: bytes, lastNanos: head.header.pointee.receivedNanos)
        s.pointee.count += 1
        return .held
    }

    /// The field's string: as written (escaped, without quotes) and as the patterns see it.
    func text(_ event: Event, _ s: UnsafeMutablePointer<State>) -> (escaped: UnsafeRawBufferPointer, plain: UnsafeRawBufferPointer)? {
        guard let (raw, kind) = EventEditor.lookup(event, path), kind == .string else { return nil }
        let inner = UnsafeRawBufferPointer(start: raw.baseAddress! + 1, count: raw.count - 2)
        if inner.count == 0 || memchr(inner.baseAddress!, 92, inner.count) == nil { return (inner, inner) }
        let n = StringUnescaper.unescape(inner, into: s.pointee.scratch, capacity: scratchCapacity)
        return (inner, UnsafeRawBufferPointer(start: s.pointee.scratch, count: n))
    }

    /// Takes record `r` out of the table; returns the event it is written in.
    func close(_ r: Int, _ s: UnsafeMutablePointer<State>) -> Event {
        let head = s.pointee.records[r].head
        s.pointee.count -= 1
        s.pointee.records[r] = s.pointee.records[s.pointee.count]
        return head
    }

    /// Appends `\n` and `line` to the record's field and links the event into the record's
    /// chain. `.wait` or `.tooLarge` leave the event and the record's text as they were.
    func fold(_ event: Event, _ line: UnsafeRawBufferPointer, into record: UnsafeMutablePointer<Record>, context: inout ActionContext) -> ActionContext.Room {
        var head = record.pointee.head
        let insert = 2 + line.count
        guard let top = head.fieldIndex(named: path.first), let (value, _) = path.lookup(head) else {
            preconditionFailure("a join record lost its field")
        }
        // Where the string's closing quote sits in the top-level value (offsets survive a move).
        let topValue = head.value(top)
        let quoteInTop = (value.baseAddress! + value.count - 1) - topValue.baseAddress!
        let atEnd = Int(head.fields[top].valueOffset) + topValue.count == Int(head.header.pointee.usedLength)
        // The top-level value moves once to the end of the data, where it then grows in place.
        let room = context.makeRoom(in: &head, fieldEntries: head.fieldCount, dataBytes: insert + (atEnd ? 0 : topValue.count))
        record.pointee.head = head
        guard room == .ready else { return room }
        if !atEnd {
            let offset = head.append(head.value(top))!
            head.fields[top].valueOffset = offset
        }
        let quote = head.data + Int(head.fields[top].valueOffset) + quoteInTop
        let end = head.data + Int(head.header.pointee.usedLength)
        memmove(quote + insert, quote, end - quote)
        quote.storeBytes(of: 92, as: UInt8.self)
        (quote + 1).storeBytes(of: 110, as: UInt8.self)
        if line.count > 0 { (quote + 2).copyMemory(from: line.baseAddress!, byteCount: line.count) }
        head.extendUsed(by: insert)
        head.fields[top].valueLength += UInt32(insert)
        head.fields[top].flags |= FieldEntry.valueHasEscapes
        head.set(EventFlags.modified)
        // The folded event's framed slot joins the chain; a large slot it was moved to is freed.
        var framed = event
        if event.has(EventFlags.grown) {
            framed = context.event(event.header.pointee.origin)
            context.giveBack(event)
        }
        record.pointee.tail.chain(to: framed.header.pointee.handle)
        record.pointee.tail = framed
        record.pointee.events += 1
        record.pointee.bytes += insert
        record.pointee.lastNanos = event.header.pointee.receivedNanos
        return .ready
    }

    /// A record to hand on now: idle for `timeout` at `now`, or any when `all`; nil when none.
    public func takeDue(now: UInt64, all: Bool) -> Event? {
        guard let s = state else { return nil }
        var r = 0
        while r < s.pointee.count {
            if all || now &- s.pointee.records[r].lastNanos >= timeoutNanos { return close(r, s) }
            r += 1
        }
        return nil
    }
}

extension JoinAction: ActionPlugin {
    public static let name = "join"
    public static let summary = "multi-line records (stack traces): a line matching start and the lines after it matching continue become one event, the field's lines joined with \\n; flushed at timeout, limits and stop"
    public static var holdsEvents: Bool { true }
    public static func make(_ arguments: PluginArguments, _ setup: ActionSetup) throws(PluginArgumentError) -> JoinAction {
        try JoinAction(arguments, maxEventBytes: setup.maxEventBytes)
    }

    public var kind: Action.Kind { .join(self) }

    @inline(__always) public func run(_ event: Event, counters: CounterBlock, pipeline: Int, context: inout ActionContext) -> Action.Verdict {
        return apply(event, counters: counters, pipeline: pipeline, context: &context)
    }
}

extension Counter {
    public static let joined = Counter(plugin: JoinAction.joined)
}

extension JoinAction {
    static let joined = CounterSpec("joined", "Events join folded into the record before them (released when that record is acknowledged).")
    public static let counters = [joined]
}
