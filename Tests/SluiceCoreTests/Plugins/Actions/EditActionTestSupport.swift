import Foundation
import Testing

@testable import SluiceCore

/// One action made through the registry (as a pipeline makes it), its worker copy, and
/// counters; `run` applies the copy to an event as a worker owning `pool`'s slab 0 would.
struct EditActionRun {
    let pool: EventPool
    let definition: Action
    let action: Action
    let counters = CounterBlock(pipelines: 1)

    init(_ type: String, _ pairs: (String, String)..., pool: EventPool? = nil) throws {
        self.pool = try pool ?? makePool()
        let arguments = PluginArguments(plugin: type, pairs: pairs.map { (key: $0.0, value: $0.1) })
        definition = try Action.make(type: type, arguments, maxEventBytes: self.pool.configuration.maxEventSizeBytes)
        action = definition.forWorker()
    }

    /// The verdict and the event after the action (moved to a large slot when it needed one).
    func run(_ event: Event) -> (Action.Verdict, Event) {
        var context = ActionContext(event: event, handle: event.header.pointee.handle, slab: pool.slabs)
        let verdict = action.apply(event, counters: counters, pipeline: 0, context: &context)
        return (verdict, context.event)
    }

    /// Decodes `json` into an event and runs the action; returns the encoded line.
    func line(_ json: String) throws -> String {
        let (verdict, event) = run(try makeDecodedEvent(json, in: pool))
        #expect(verdict == .pass)
        return encodedText(event)
    }

    func count(_ counter: Counter) -> UInt64 { counters.read(counter, pipeline: 0) }

    func dispose() {
        action.dispose()
        definition.dispose()
        definition.disposeShared()
    }
}

/// The error a registry `make` of `type` with `pairs` throws, or nil.
func editActionRejection(_ type: String, _ pairs: (String, String)...) -> PluginArgumentError? {
    rejection { () throws(PluginArgumentError) in
        try Action.make(type: type, PluginArguments(plugin: type, pairs: pairs.map { (key: $0.0, value: $0.1) }), maxEventBytes: 8192)
    }
}

/// An object of `count` members `"k0":0 …`, for indexes cut at --max-fields.
func manyMembers(_ count: Int) -> String {
    "{" + (0..<count).map { #""k\#($0)":\#($0)"# }.joined(separator: ",") + "}"
}

/// A decoded large event of about the pool's --max-event-size (`room` bytes short of it).
func nearlyFullEvent(in pool: EventPool, room: Int, json prefix: String = #"{"a":{"b":1},"#) throws -> Event {
    let filler = String(repeating: "x", count: pool.configuration.maxEventSizeBytes - room - prefix.utf8.count - 8)
    return try makeDecodedLargeEvent(prefix + #""f":"\#(filler)"}"#, in: pool)
}
