import Glibc

/// `aggregate`: counts, sums and averages a numeric field per key, consuming the events it
/// aggregates; one row per key, `{"<key>":<key value>,"count":N,"sum":S,"avg":A}`, is emitted
/// every `interval` and when the node stops, and goes through the actions after this one to the
/// output. Every worker aggregates the streams it processes: with several workers a key may get
/// one row per worker (count and sum add up; avg = sum/count). Events without the key or a
/// numeric value pass unchanged (counted as aggregate_skipped).
/// The running totals live in memory: rows not yet emitted are lost if the node crashes.
public struct AggregateAction: @unchecked Sendable {
    static let key = Parameter.required("key", .text, doc: "field (or dotted path) to group by; its raw JSON value is the group")
    static let value = Parameter.required("value", .text, doc: "numeric field to count, sum and average")
    static let interval = Parameter.duration("interval", default: "0", example: "10s (0: only at stop)",
                                             doc: "emit the rows and reset every interval (0: only when the node stops)")
    static let maxKeys = Parameter.int("max-keys", default: 1024, range: 1...1_000_000,
                                       doc: "groups held per worker; events of further keys pass unchanged (aggregate_skipped)")
    public static let parameters = [key.doc, value.doc, interval.doc, maxKeys.doc]

    struct Group {
        var used = false
        var hash: UInt64 = 0
        var keyOffset = 0
        var keyLength = 0
        var count: UInt64 = 0
        var integerSum: Int64 = 0
        var doubleSum: Double = 0
        var allIntegers = true
    }

    /// One worker's running totals (plain memory, so the action stays a value with no ARC).
    struct State {
        var groups: UnsafeMutablePointer<Group>
        var capacity: Int
        var used = 0
        var arena: UnsafeMutableRawPointer
        var arenaUsed = 0
        var nextEmitNanos: UInt64 = 0
        var emitCursor = 0
        var finalEmitted = false
    }

    public let keyPath: FieldPath
    public let valuePath: FieldPath
    /// The output field name of the key (its last path component), JSON-escaped. Plain memory,
    /// not an Array: the action is copied per event, and an Array would be retained each time.
    let keyName: UnsafeMutableRawBufferPointer
    public let intervalNanos: UInt64
    public let maxKeys: Int
    static let maxKeyBytes = 1024
    var state: UnsafeMutablePointer<State>?

    public init(_ arguments: PluginArguments) throws(PluginArgumentError) {
        try arguments.checkKnown(Self.parameters)
        let key = try arguments.value(Self.key)
        keyPath = try FieldPath(key)
        valuePath = try FieldPath(try arguments.value(Self.value))
        let name = JSONText.quoted(String(key.split(separator: ".").last ?? ""))
        keyName = .allocate(byteCount: name.count, alignment: 1)
        keyName.copyBytes(from: name)
        intervalNanos = UInt64(try arguments.value(Self.interval)) * 1000
        maxKeys = try arguments.value(Self.maxKeys)
    }

    /// A copy with its own table, for one worker.
    public func forWorker() -> AggregateAction {
        var copy = self
        var capacity = 16
        while capacity < maxKeys * 2 { capacity <<= 1 }
        let groups = UnsafeMutablePointer<Group>.allocate(capacity: capacity)
        groups.initialize(repeating: Group(), count: capacity)
        let arena = UnsafeMutableRawPointer.allocate(byteCount: maxKeys * AggregateAction.maxKeyBytes, alignment: 8)
        copy.state = .allocate(capacity: 1)
        copy.state!.initialize(to: State(groups: groups, capacity: capacity, arena: arena))
        return copy
    }

    /// Frees a worker copy's table (the definition has none).
    public func dispose() {
        guard let state else { return }
        state.pointee.groups.deinitialize(count: state.pointee.capacity)
        state.pointee.groups.deallocate()
        state.pointee.arena.deallocate()
        state.deinitialize(count: 1)
        state.deallocate()
    }

    /// Frees the field paths and key name every copy shares (on the definition, copies gone).
    public func disposeShared() {
        keyPath.dispose()
        valuePath.dispose()
        keyName.deallocate()
    }

    /// Adds the event to its group; false when the event was consumed, true when it passes on.
    public func apply(_ event: Event, counters: CounterBlock, pipeline: Int) -> Bool {
        guard let state, event.has(EventFlags.decoded),
              let key = EventEditor.lookup(event, keyPath), key.value.count <= AggregateAction.maxKeyBytes,
              let value = EventEditor.lookup(event, valuePath), value.kind == .number else {
            counters.add(.aggregateSkipped, 1, pipeline: pipeline)
            return true
        }
        let hash = AggregateAction.hash(key.value)
        let s = state
        var i = Int(hash & UInt64(s.pointee.capacity - 1))
        while true {
            let g = s.pointee.groups + i
            if !g.pointee.used {
                guard s.pointee.used < maxKeys else {
                    counters.add(.aggregateSkipped, 1, pipeline: pipeline)
                    return true
                }
                g.pointee = Group(used: true, hash: hash, keyOffset: s.pointee.arenaUsed, keyLength: key.value.count)
                (s.pointee.arena + s.pointee.arenaUsed).copyMemory(from: key.value.baseAddress!, byteCount: key.value.count)
                s.pointee.arenaUsed += key.value.count
                s.pointee.used += 1
                add(value.value, to: g)
                return false
            }
            if g.pointee.hash == hash && g.pointee.keyLength == key.value.count
                && memcmp(s.pointee.arena + g.pointee.keyOffset, key.value.baseAddress!, key.value.count) == 0 {
                add(value.value, to: g)
                return false
            }
            i = (i + 1) & (s.pointee.capacity - 1)
        }
    }

    func add(_ number: UnsafeRawBufferPointer, to g: UnsafeMutablePointer<Group>) {
        g.pointee.count += 1
        if g.pointee.allIntegers, let n = AggregateAction.integer(number) {
            let (sum, overflow) = g.pointee.integerSum.addingReportingOverflow(n)
            if !overflow {
                g.pointee.integerSum = sum
                return
            }
        }
        if g.pointee.allIntegers {
            g.pointee.allIntegers = false
            g.pointee.doubleSum = Double(g.pointee.integerSum)
        }
        g.pointee.doubleSum += AggregateAction.double(number)
    }

    static func integer(_ raw: UnsafeRawBufferPointer) -> Int64? {
        var i = 0
        var negative = false
        if raw.count > 0 && raw[0] == 45 { negative = true; i = 1 }
        guard i < raw.count, raw.count - i <= 18 else { return nil }
        var v: Int64 = 0
        while i < raw.count {
            let d = raw[i] &- 48
            guard d < 10 else { return nil }
            v = v * 10 + Int64(d)
            i += 1
        }
        return negative ? -v : v
    }

    static func double(_ raw: UnsafeRawBufferPointer) -> Double {
        var buffer = (UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0))
        return withUnsafeMutableBytes(of: &buffer) { b -> Double in
            let n = min(raw.count, b.count - 1)
            b.copyMemory(from: UnsafeRawBufferPointer(rebasing: raw[0..<n]))
            b[n] = 0
            return strtod(b.baseAddress!.assumingMemoryBound(to: CChar.self), nil)
        }
    }

    @inline(__always) static func hash(_ bytes: UnsafeRawBufferPointer) -> UInt64 {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for b in bytes { h = (h ^ UInt64(b)) &* 0x100_0000_01b3 }
        return h
    }

    /// The row of group `i`, or nil when the slot is empty.
    func row(_ i: Int) -> [UInt8]? {
        guard let s = state else { return nil }
        let g = s.pointee.groups[i]
        guard g.used else { return nil }
        var out: [UInt8] = [123]
        out += Array(keyName)
        out.append(58)
        out += UnsafeRawBufferPointer(start: s.pointee.arena + g.keyOffset, count: g.keyLength)
        let sum = g.allIntegers ? Double(g.integerSum) : g.doubleSum
        // JSON has no infinity or NaN (a value such as 1e999, or a sum past the largest
        // double): such a sum or average is written as null rather than as invalid JSON.
        let sumText = g.allIntegers ? String(g.integerSum) : (sum.isFinite ? String(sum) : "null")
        let avg = g.count > 0 ? sum / Double(g.count) : 0
        let avgText = avg.isFinite ? "\(avg)" : "null"
        out += Array(",\"count\":\(g.count),\"sum\":\(sumText),\"avg\":\(avgText)}".utf8)
        return out
    }

    func reset() {
        guard let s = state else { return }
        s.pointee.groups.update(repeating: Group(), count: s.pointee.capacity)
        s.pointee.used = 0
        s.pointee.arenaUsed = 0
        s.pointee.emitCursor = 0
    }
}

extension AggregateAction: ActionPlugin {
    public static let name = "aggregate"
    public static let summary = "count, sum and average a field per key; rows on interval and at stop (a sum or average that is not finite, e.g. from 1e999, is written as null; a row too large for an event slot is dropped, logged and counted in aggregate_skipped)"
    public static func make(_ arguments: PluginArguments, _ setup: ActionSetup) throws(PluginArgumentError) -> AggregateAction {
        try AggregateAction(arguments)
    }

    public var kind: Action.Kind { .aggregate(self) }

    @inline(__always) public func run(_ event: Event, counters: CounterBlock, pipeline: Int, context: inout ActionContext) -> Action.Verdict {
        return apply(event, counters: counters, pipeline: pipeline) ? .pass : .consumed
    }
}
