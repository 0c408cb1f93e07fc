import Testing

@testable import SluiceCore

@Suite struct AggregateActionTests {
    @Test func aKeyAndValuePastTheMaxFieldsIndexAreFoundInTheText() throws {
        let pool = try makePool(maxFields: 8)
        let counters = CounterBlock(pipelines: 1)
        let action = try AggregateAction(PluginArguments(plugin: "aggregate", pairs: [(key: "key", value: "k10"), (key: "value", value: "n")])).forWorker()
        defer { action.dispose(); action.disposeShared() }
        let line = "{" + ((0..<10).map { #""k\#($0)":\#($0)"# } + [#""k10":"a""#, #""n":5"#]).joined(separator: ",") + "}"
        let event = try makeDecodedEvent(line, in: pool)
        #expect(event.has(EventFlags.fieldsTruncated))
        #expect(!action.apply(event, counters: counters, pipeline: 0), "consumed into its group")
        #expect(counters.read(.aggregateSkipped, pipeline: 0) == 0)
        let without = try makeDecodedEvent("{" + (0..<10).map { #""k\#($0)":\#($0)"# }.joined(separator: ",") + "}", in: pool)
        #expect(action.apply(without, counters: counters, pipeline: 0), "no key: passed on")
        #expect(counters.read(.aggregateSkipped, pipeline: 0) == 1)
    }
}
