import Glibc

/// `throttle`: lets at most `limit` events per value of `key` through in each `interval`; the
/// others are dropped (counted `throttle_dropped`; a drop still commits in order, as `discard`).
/// A key's interval starts with its first event (a fixed window, measured on the events'
/// receive times). Events without the key (or not decoded) share one bucket.
///
/// The limit is per worker: every worker throttles the streams it processes (a stream is
/// processed on the worker that reads it), so with W workers a key spread over streams of
/// several workers may pass up to W × `limit` events per interval. Each worker holds at most
/// `max-keys` keys in a table allocated at start; a new key when it is full takes the place of
/// the key first seen longest ago (counted `throttle_evicted`), whose window starts again.
public struct ThrottleAction: @unchecked Sendable {
    static let key = Parameter.required("key", .text, doc: "field (or dotted path) whose raw JSON value is the throttling key; events without it share one bucket")
    static let limit = Parameter.int("limit", default: 1000, range: 1...Int(UInt32.max), doc: "events let through per key and interval (per worker)")
    static let interval = Parameter.duration("interval", default: "1s", atLeast: "1ms", doc: "length of a key's window, from its first event")
    static let maxKeys = Parameter.int("max-keys", default: 10_000, range: 1...1_000_000,
                                       doc: "keys held per worker; a new key beyond them evicts the one first seen longest ago (throttle_evicted)")
    public static let parameters = [key.doc, limit.doc, interval.doc, maxKeys.doc]

    /// Key bytes compared exactly; a longer key is told apart by its 64-bit hash and length
    /// beyond them.
    static let storedKeyBytes = 128

    struct Bucket {
        var hash: UInt64 = 0
        var length = 0
        var windowStartNanos: UInt64 = 0
        var count: UInt32 = 0
    }

    /// One worker's table (plain memory: the action is copied per event, an Array would be
    /// retained each time). `index` is open addressing with linear probing over bucket numbers
    /// (-1: empty), twice `maxKeys` or more; buckets are reused in the order they were first
    /// filled, so the oldest key is the one `nextBucket` points at once all are used. Bucket
    /// `maxKeys`, past the keyed ones, is the keyless events' bucket.
    struct State {
        var buckets: UnsafeMutablePointer<Bucket>
        var keys: UnsafeMutableRawPointer
        var index: UnsafeMutablePointer<Int32>
        var indexMask: Int
        var used = 0
        var nextBucket = 0
    }

    public let keyPath: FieldPath
    public let limit: UInt32
    public let intervalNanos: UInt64
    public let maxKeys: Int
    var state: UnsafeMutablePointer<State>?

    public init(_ arguments: PluginArguments) throws(PluginArgumentError) {
        try arguments.checkKnown(Self.parameters)
        do { keyPath = try FieldPath(try arguments.value(Self.key)) } catch { throw PluginArgumentError(key: "key", error.message) }
        limit = UInt32(try arguments.value(Self.limit))
        intervalNanos = UInt64(try arguments.value(Self.interval)) * 1000
        maxKeys = try arguments.value(Self.maxKeys)
    }

    /// A copy with its own table, for one worker.
    public func forWorker() -> ThrottleAction {
        var copy = self
        var size = 16
        while size < maxKeys * 2 { size <<= 1 }
        let buckets = UnsafeMutablePointer<Bucket>.allocate(capacity: maxKeys + 1)
        buckets.initialize(repeating: Bucket(), count: maxKeys + 1)
        let index = UnsafeMutablePointer<Int32>.allocate(capacity: size)
        index.initialize(repeating: -1, count: size)
        let keys = UnsafeMutableRawPointer.allocate(byteCount: maxKeys * ThrottleAction.storedKeyBytes, alignment: 8)
        copy.state = .allocate(capacity: 1)
        copy.state!.initialize(to: State(buckets: buckets, keys: keys, index: index, indexMask: size - 1))
        return copy
    }

    public func dispose() {
        guard let state else { return }
        state.pointee.buckets.deallocate()
        state.pointee.index.deallocate()
        state.pointee.keys.deallocate()
        state.deallocate()
    }

    public func disposeShared() { keyPath.dispose() }

    /// True when the event passes, false when it is over its key's limit (counted).
    public func apply(_ event: Event, counters: CounterBlock, pipeline: Int) -> Bool {
        guard let s = state else { return true }
        let now = event.header.pointee.receivedNanos
        let bucket: UnsafeMutablePointer<Bucket>
        if let key = EventEditor.lookup(event, keyPath) {
            bucket = find(key.value, s, counters: counters, pipeline: pipeline)
        } else {
            bucket = s.pointee.buckets + maxKeys
        }
        if bucket.pointee.count == 0 || now &- bucket.pointee.windowStartNanos >= intervalNanos || now < bucket.pointee.windowStartNanos {
            bucket.pointee.windowStartNanos = now
            bucket.pointee.count = 0
        }
        if bucket.pointee.count < limit {
            bucket.pointee.count += 1
            return true
        }
        counters.add(.throttleDropped, 1, pipeline: pipeline)
        return false
    }

    /// The key's bucket, made (evicting the oldest key when the table is full) if it is new.
    func find(_ key: UnsafeRawBufferPointer, _ s: UnsafeMutablePointer<State>, counters: CounterBlock, pipeline: Int) -> UnsafeMutablePointer<Bucket> {
        let hash = AggregateAction.hash(key)
        let stored = min(key.count, ThrottleAction.storedKeyBytes)
        var i = Int(truncatingIfNeeded: hash) & s.pointee.indexMask
        while true {
            let b = Int(s.pointee.index[i])
            if b < 0 { break }
            let bucket = s.pointee.buckets + b
            if bucket.pointee.hash == hash && bucket.pointee.length == key.count
                && (stored == 0 || memcmp(s.pointee.keys + b * ThrottleAction.storedKeyBytes, key.baseAddress!, stored) == 0) {
                return bucket
            }
            i = (i + 1) & s.pointee.indexMask
        }
        let b = s.pointee.nextBucket
        s.pointee.nextBucket = (b + 1) % maxKeys
        if s.pointee.used == maxKeys {
            unindex(b, s)
            counters.add(.throttleEvicted, 1, pipeline: pipeline)
        } else {
            s.pointee.used += 1
        }
        let bucket = s.pointee.buckets + b
        bucket.pointee = Bucket(hash: hash, length: key.count)
        if stored > 0 { (s.pointee.keys + b * ThrottleAction.storedKeyBytes).copyMemory(from: key.baseAddress!, byteCount: stored) }
        // The eviction may have moved entries; find the free place of this hash again.
        i = Int(truncatingIfNeeded: hash) & s.pointee.indexMask
        while s.pointee.index[i] >= 0 { i = (i + 1) & s.pointee.indexMask }
        s.pointee.index[i] = Int32(b)
        return bucket
    }

    /// Removes bucket `b` from the index, moving later entries of its probe run back into the
    /// hole (linear probing without tombstones).
    func unindex(_ b: Int, _ s: UnsafeMutablePointer<State>) {
        let mask = s.pointee.indexMask
        var hole = Int(truncatingIfNeeded: s.pointee.buckets[b].hash) & mask
        while Int(s.pointee.index[hole]) != b {
            precondition(s.pointee.index[hole] >= 0, "a throttle key missing from its index")
            hole = (hole + 1) & mask
        }
        var j = hole
        while true {
            j = (j + 1) & mask
            let e = Int(s.pointee.index[j])
            if e < 0 { break }
            let home = Int(truncatingIfNeeded: s.pointee.buckets[e].hash) & mask
            // Entry j may fill the hole when its home is not within (hole, j] cyclically.
            let fits = hole <= j ? (home <= hole || home > j) : (home <= hole && home > j)
            if fits {
                s.pointee.index[hole] = Int32(e)
                hole = j
            }
        }
        s.pointee.index[hole] = -1
    }
}

extension ThrottleAction: ActionPlugin {
    public static let name = "throttle"
    public static let summary = "at most limit events per key value and interval, per worker; the others are dropped (throttle_dropped); events without the key share one bucket"
    public static func make(_ arguments: PluginArguments, _ setup: ActionSetup) throws(PluginArgumentError) -> ThrottleAction {
        try ThrottleAction(arguments)
    }

    public var kind: Action.Kind { .throttle(self) }

    @inline(__always) public func run(_ event: Event, counters: CounterBlock, pipeline: Int, context: inout ActionContext) -> Action.Verdict {
        return apply(event, counters: counters, pipeline: pipeline) ? .pass : .drop
    }
}

extension Counter {
    public static let throttleDropped = Counter(plugin: ThrottleAction.throttleDropped)
    public static let throttleEvicted = Counter(plugin: ThrottleAction.throttleEvicted)
}

extension ThrottleAction {
    static let throttleDropped = CounterSpec("throttle_dropped", "Events throttle dropped: over its limit for their key in the interval.")
    static let throttleEvicted = CounterSpec("throttle_evicted", "Keys throttle forgot to make room for a new one (the key first seen longest ago).")
    public static let counters = [throttleDropped, throttleEvicted]
}
