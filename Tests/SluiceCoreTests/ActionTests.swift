import Testing

@testable import SluiceCore

private func makeAction(_ type: String, _ pairs: (String, String)...) throws(PluginArgumentError) -> Action {
    try Action.make(type: type, PluginArguments(plugin: type, pairs: pairs.map { (key: $0.0, value: $0.1) }), maxEventBytes: 8192)
}

@Suite struct ActionTests {
    @Test func everyDocumentedActionTypeCanBeMade() throws {
        #expect(Set(["json_decode", "discard", "modify"]).isSubset(of: Action.types.map(\.name)))
        guard case .jsonDecode = try makeAction("json_decode").kind else { Issue.record("json_decode"); return }
        guard case .discard = try makeAction("discard", ("field", "a"), ("equals", "b")).kind else { Issue.record("discard"); return }
        guard case .modify = try makeAction("modify", ("field", "a"), ("value", "b")).kind else { Issue.record("modify"); return }
    }

    @Test func anUnknownActionTypeIsRejectedNamingTheKnownOnes() {
        let error = rejection { () throws(PluginArgumentError) in try makeAction("drop") }
        #expect(error?.key == nil)
        #expect(error?.description == "unknown action 'drop' (known: \(Action.types.map(\.name).joined(separator: ", ")))")
        #expect(error?.description.contains("json_decode, discard, modify") == true)
    }

    @Test func aChainDecodesDiscardsAndModifiesInOrder() throws {
        let pool = try makePool()
        let counters = CounterBlock(pipelines: 1)
        let chain = [
            try makeAction("json_decode"),
            try makeAction("discard", ("field", "type"), ("equals", "view")),
            try makeAction("modify", ("field", "seen"), ("json-value", "true")),
        ]
        func run(_ raw: String) -> Event? {
            let event = makeEvent(raw, in: pool)
            for action in chain where action.apply(event, counters: counters, pipeline: 0, in: pool) == .drop { return nil }
            return event
        }
        #expect(run(#"{"type":"view"}"#) == nil)
        let kept = try #require(run(#"{"type":"click"}"#))
        #expect(fieldTexts(kept).map(\.key) == ["type", "seen"])
        let invalid = try #require(run("not json"))
        #expect(invalid.has(EventFlags.invalidJSON))
        #expect(!invalid.has(EventFlags.modified))
        #expect(counters.read(.invalidJSON, pipeline: 0) == 1)
        #expect(counters.read(.modifySkipped, pipeline: 0) == 1)
    }
}
