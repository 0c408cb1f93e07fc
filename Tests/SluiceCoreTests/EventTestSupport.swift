@testable import SluiceCore
import Testing

/// A small one-slab pool: 1 KiB ordinary slots, 8 KiB large slots, 8 fields. No huge pages, so
/// tests never depend on the machine's THP settings.
func makePool(
    capacity: Int = 128, eventSizeBytes: Int = 1024, maxEventSizeBytes: Int = 8192, largeSlots: Int = 4,
    maxFields: Int = 8, workers: Int = 1, mediumSlots: Int = 0, mediumEventSizeBytes: Int = 2048
) throws -> EventPool {
    var configuration = PoolConfiguration(
        capacity: capacity, eventSizeBytes: eventSizeBytes, maxEventSizeBytes: maxEventSizeBytes,
        largeSlots: largeSlots, maxFields: maxFields, hugePages: false)
    configuration.mediumSlots = mediumSlots
    configuration.mediumEventSizeBytes = mediumEventSizeBytes
    return try EventPool(configuration, placements: Array(repeating: .anyNode, count: workers))
}

/// Takes an ordinary event from slab 0 and fills its raw bytes, as the line framer would.
func makeEvent(_ bytes: [UInt8], in pool: EventPool) -> Event {
    guard let event = pool.take() else { fatalError("test pool exhausted") }
    precondition(bytes.count <= Int(event.header.pointee.dataCapacity), "test record does not fit an ordinary slot")
    bytes.withUnsafeBytes { if $0.count > 0 { event.data.copyMemory(from: $0.baseAddress!, byteCount: $0.count) } }
    event.mutableHeader.pointee.rawLength = UInt32(bytes.count)
    event.mutableHeader.pointee.usedLength = UInt32(bytes.count)
    return event
}

func makeEvent(_ text: String, in pool: EventPool) -> Event { makeEvent(Array(text.utf8), in: pool) }

/// An event holding `json`, run through `json_decode` with default settings.
func makeDecodedEvent(_ json: String, in pool: EventPool, counters: CounterBlock = CounterBlock(pipelines: 1)) throws -> Event {
    let event = makeEvent(json, in: pool)
    try JSONDecodeAction(arguments("json_decode")).apply(event, counters: counters, pipeline: 0)
    return event
}

func arguments(_ plugin: String, _ pairs: (String, String)...) -> PluginArguments {
    PluginArguments(plugin: plugin, pairs: pairs.map { (key: $0.0, value: $0.1) })
}

/// The error message a plugin constructor throws, or nil when it accepts the arguments.
func rejection<T>(_ make: () throws(PluginArgumentError) -> T) -> PluginArgumentError? {
    do {
        _ = try make()
        return nil
    } catch {
        return error
    }
}

func text(_ bytes: UnsafeRawBufferPointer) -> String { String(decoding: bytes, as: UTF8.self) }

/// The field names and raw values of a decoded event, in index order.
func fieldTexts(_ event: Event) -> [(key: String, value: String)] {
    (0..<event.fieldCount).map { (key: text(event.key($0)), value: text(event.value($0))) }
}

extension EventPool {
    /// Takes from one slab's free list (a method on the class, so `#require` can wrap the call).
    func take(slab: Int = 0) -> Event? { slabs[slab].take() }

    func takeLarge(slab: Int = 0) -> Event? { slabs[slab].takeLarge() }

    func takeLonger(dataBytes: Int, slab: Int = 0) -> Event? { slabs[slab].takeLonger(dataBytes: dataBytes) }
}

extension Action {
    /// Runs the action as a worker owning `pool`'s slab 0 would; the event it leaves (moved to
    /// a large slot when a change needed one) is in `context.event`.
    func apply(_ event: Event, counters: CounterBlock, pipeline: Int, in pool: EventPool) -> Verdict {
        var context = ActionContext(event: event, handle: event.header.pointee.handle, slab: pool.slabs)
        return apply(event, counters: counters, pipeline: pipeline, context: &context)
    }
}

extension ModifyAction {
    /// Applies the change to an event of `pool`'s slab 0; true when it was changed in its slot.
    func apply(_ event: Event, in pool: EventPool) -> Bool {
        var context = ActionContext(event: event, handle: event.header.pointee.handle, slab: pool.slabs)
        return apply(event, context: &context) == .changed && context.handle == event.header.pointee.handle
    }
}

/// A record longer than an ordinary slot in a large one (as the framer moves it), decoded.
func makeDecodedLargeEvent(_ json: String, in pool: EventPool, counters: CounterBlock = CounterBlock(pipelines: 1)) throws -> Event {
    guard let event = pool.slabs.pointee.takeLarge() else { fatalError("test pool has no free large slot") }
    let bytes = Array(json.utf8)
    precondition(bytes.count <= Int(event.header.pointee.dataCapacity), "test record does not fit a large slot")
    bytes.withUnsafeBytes { event.data.copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
    event.mutableHeader.pointee.rawLength = UInt32(bytes.count)
    event.mutableHeader.pointee.usedLength = UInt32(bytes.count)
    try JSONDecodeAction(arguments("json_decode")).apply(event, counters: counters, pipeline: 0)
    return event
}

/// An object of 12 members of every kind (an escaped key, escapes and non-ASCII in strings,
/// nested containers, a newline between key and value, a key twice), in whitespace: long enough
/// to be cut by a small `--max-fields`.
enum LongObject {
    static let members = [
        #""a":1"#, #" "b\"q" : "x\\y" "#, #""c":{"d":[1,{"e":"}"}]}"#, #""d":[]"#, #""e":true"#, #""f":false"#,
        #""g":null"#, #""h":-1.5e3"#, #""i":"\u00e9 caf\u00e9 ☃""#, "\"j\":\n\"plain\"", #""k":{}"#, #""a":"dup""#,
    ]
    static let text = "  {" + members.joined(separator: " ,") + "}  "
}

/// Expects `event` to index `LongObject.text` whole, with the entries a scan with room for
/// every member gives: offsets, kinds and escape flags.
func expectTheIndexOfAFullScanOfLongObject(_ event: Event, sourceLocation: SourceLocation = #_sourceLocation) {
    let count = LongObject.members.count
    #expect(!event.has(EventFlags.fieldsTruncated) && event.fieldCount == count, sourceLocation: sourceLocation)
    let full = UnsafeMutablePointer<FieldEntry>.allocate(capacity: count)
    defer { full.deallocate() }
    let outcome = Array(LongObject.text.utf8).withUnsafeBytes { JSONScanner.scan($0, fields: full, fieldCapacity: count) }
    #expect(outcome == .valid(fieldCount: count, fieldsTruncated: false), sourceLocation: sourceLocation)
    for i in 0..<min(count, event.fieldCount) {
        let got = event.fields[i], want = full[i]
        #expect(got.keyOffset == want.keyOffset && got.keyLength == want.keyLength && got.valueOffset == want.valueOffset
                && got.valueLength == want.valueLength && got.kind == want.kind && got.flags == want.flags, "member \(i)",
                sourceLocation: sourceLocation)
    }
}
