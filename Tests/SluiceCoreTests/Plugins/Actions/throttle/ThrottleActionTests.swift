import Testing

@testable import SluiceCore

@Suite struct ThrottleActionTests {
    static let second: UInt64 = 1_000_000_000

    /// A decoded event received at `nanos` (the throttle's clock).
    func event(_ json: String, at nanos: UInt64, _ pool: EventPool) throws -> Event {
        let e = try makeDecodedEvent(json, in: pool)
        e.mutableHeader.pointee.receivedNanos = nanos
        return e
    }

    func throttle(_ pairs: (String, String)...) throws -> ThrottleAction {
        try ThrottleAction(PluginArguments(plugin: "throttle", pairs: pairs.map { (key: $0.0, value: $0.1) })).forWorker()
    }

    /// Runs `json` through the action at `nanos` and gives the slot back; true when it passed.
    func passes(_ action: ThrottleAction, _ json: String, at nanos: UInt64, _ pool: EventPool, _ counters: CounterBlock) throws -> Bool {
        let e = try event(json, at: nanos, pool)
        defer { pool.slabs.pointee.release(e.header.pointee.handle) }
        return action.apply(e, counters: counters, pipeline: 0)
    }

    @Test func atMostLimitEventsPerKeyPassInOneIntervalAndTheWindowStartsAgainAfterIt() throws {
        let pool = try makePool(), counters = CounterBlock(pipelines: 1)
        let action = try throttle(("key", "user"), ("limit", "3"), ("interval", "1s"))
        defer { action.dispose(); action.disposeShared() }
        let t0 = 10 * Self.second
        let a = try (0..<5).map { try passes(action, #"{"user":"a"}"#, at: t0 + UInt64($0), pool, counters) }
        #expect(a == [true, true, true, false, false])
        // Another key has its own budget.
        #expect(try passes(action, #"{"user":"b"}"#, at: t0 + 10, pool, counters))
        // Just before the interval ends: still over; at its end: a new window.
        #expect(try !passes(action, #"{"user":"a"}"#, at: t0 + Self.second - 1, pool, counters))
        #expect(try passes(action, #"{"user":"a"}"#, at: t0 + Self.second, pool, counters))
        #expect(counters.read(.throttleDropped, pipeline: 0) == 3)
        #expect(pool.slabs.pointee.takenCount == 0)
    }

    @Test func eventsWithoutTheKeyOrNotDecodedShareOneBucket() throws {
        let pool = try makePool(), counters = CounterBlock(pipelines: 1)
        let action = try throttle(("key", "user.id"), ("limit", "2"))
        defer { action.dispose(); action.disposeShared() }
        #expect(try passes(action, #"{"other":1}"#, at: 1, pool, counters))
        #expect(try passes(action, #"{"user":"not an object"}"#, at: 2, pool, counters))
        let plain = makeEvent("not json \u{FF}", in: pool)
        plain.mutableHeader.pointee.receivedNanos = 3
        #expect(!action.apply(plain, counters: counters, pipeline: 0), "the shared bucket is used up")
        // A nested key is its own bucket, compared by its raw JSON value (1 and "1" differ).
        #expect(try passes(action, #"{"user":{"id":1}}"#, at: 4, pool, counters))
        #expect(try passes(action, #"{"user":{"id":"1"}}"#, at: 4, pool, counters))
        #expect(counters.read(.throttleDropped, pipeline: 0) == 1)
    }

    @Test func aKeyPastTheMaxFieldsIndexIsFoundInTheText() throws {
        let pool = try makePool(maxFields: 8), counters = CounterBlock(pipelines: 1)
        let action = try throttle(("key", "k10"), ("limit", "1"))
        defer { action.dispose(); action.disposeShared() }
        func line(_ key: String) -> String { "{" + ((0..<10).map { #""k\#($0)":\#($0)"# } + [#""k10":"\#(key)""#]).joined(separator: ",") + "}" }
        #expect(try makeDecodedEvent(line("a"), in: pool).has(EventFlags.fieldsTruncated))
        #expect(try passes(action, line("a"), at: 1, pool, counters))
        #expect(try passes(action, line("b"), at: 2, pool, counters), "b has its own bucket: the key was read past the cut")
        #expect(try !passes(action, line("a"), at: 3, pool, counters))
    }

    @Test func manyKeysEvictTheOldestAndEveryKeyLeftIsStillFound() throws {
        let pool = try makePool(), counters = CounterBlock(pipelines: 1)
        let maxKeys = 50
        let action = try throttle(("key", "k"), ("limit", "1"), ("interval", "3600s"), ("max-keys", "\(maxKeys)"))
        defer { action.dispose(); action.disposeShared() }
        // 1,000 keys through a table of 50: each new key evicts the one first seen longest ago.
        for k in 0..<1000 { #expect(try passes(action, #"{"k":\#(k)}"#, at: 1, pool, counters)) }
        #expect(counters.read(.throttleEvicted, pipeline: 0) == UInt64(1000 - maxKeys))
        // The last 50 are held (their limit is used up); the older ones were forgotten.
        for k in 950..<1000 { #expect(try !passes(action, #"{"k":\#(k)}"#, at: 2, pool, counters), "key \(k)") }
        #expect(try passes(action, #"{"k":0}"#, at: 2, pool, counters), "an evicted key starts a new window")
        #expect(counters.read(.throttleDropped, pipeline: 0) == 50)
    }

    @Test func longKeysAreToldApartBeyondTheStoredBytes() throws {
        let pool = try makePool(), counters = CounterBlock(pipelines: 1)
        let action = try throttle(("key", "k"), ("limit", "1"))
        defer { action.dispose(); action.disposeShared() }
        let prefix = String(repeating: "x", count: 300)
        #expect(try passes(action, #"{"k":"\#(prefix)a"}"#, at: 1, pool, counters))
        #expect(try passes(action, #"{"k":"\#(prefix)b"}"#, at: 1, pool, counters))
        #expect(try !passes(action, #"{"k":"\#(prefix)a"}"#, at: 1, pool, counters))
    }

    @Test func badParametersAreRefusedWithTheirKey() {
        func refusal(_ pairs: (String, String)...) -> PluginArgumentError? {
            rejection { () throws(PluginArgumentError) in try ThrottleAction(PluginArguments(plugin: "throttle", pairs: pairs.map { (key: $0.0, value: $0.1) })) }
        }
        #expect(refusal(("limit", "5"))?.key == "key")
        #expect(refusal(("key", "a"), ("limit", "0"))?.key == "limit")
        #expect(refusal(("key", "a"), ("interval", "0"))?.key == "interval")
        #expect(refusal(("key", "a"), ("max-keys", "0"))?.key == "max-keys")
        #expect(refusal(("key", "a.."))?.key == "key")
        #expect(refusal(("key", "a"), ("limits", "1"))?.key == "limits")
    }
}
