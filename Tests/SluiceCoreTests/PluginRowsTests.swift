import Testing

@testable import SluiceCore

/// Per-plugin counter rows: a reloaded pipeline with the same plugin types keeps its rows (its
/// counters stay monotonic), other types get new rows, and the spare rows bound what reloads add.
@Suite struct PluginRowsTests {
    func pipeline(_ name: String, inputs: [InputDefinition], actions: [Action] = []) -> PipelineDefinition {
        PipelineDefinition(name: name, inputs: inputs, actions: actions, output: .devnull(DevNullOutput()))
    }

    @Test func startingPipelinesGetConsecutiveRows() throws {
        let rows = PluginRows([pipeline("a", inputs: [.stdin(StdinInput()), .stdin(StdinInput())]), pipeline("b", inputs: [.stdin(StdinInput())], actions: [.jsonDecode(try JSONDecodeAction(PluginArguments(plugin: "json_decode", pairs: [])))])])
        #expect(rows.inputRow(slot: 0, input: 0) == 0)
        #expect(rows.inputRow(slot: 0, input: 1) == 1)
        #expect(rows.inputRow(slot: 1, input: 0) == 2)
        #expect(rows.actionBase(slot: 1) == 0)
        #expect(rows.inputCapacity == 3 + PluginRows.spareInputRows)
    }

    @Test func theSameTypesKeepTheirRowsOtherTypesGetNewOnes() throws {
        var rows = PluginRows([pipeline("a", inputs: [.stdin(StdinInput())]), pipeline("b", inputs: [.stdin(StdinInput())])])
        let same = rows.assign(slot: 1, pipeline("b", inputs: [.stdin(StdinInput())]))
        #expect(same)
        #expect(rows.inputRow(slot: 1, input: 0) == 1, "same types: same row")
        let tcp = try InputDefinition.make(type: "tcp", PluginArguments(plugin: "tcp", pairs: [("listen", "127.0.0.1:1")]))
        let other = rows.assign(slot: 1, pipeline("b", inputs: [tcp]))
        #expect(other)
        #expect(rows.inputRow(slot: 1, input: 0) == 2, "another type: a new row")
        let added = rows.assign(slot: 2, pipeline("c", inputs: [.stdin(StdinInput())]))
        #expect(added)
        #expect(rows.inputRow(slot: 2, input: 0) == 3)
    }

    @Test func rowsBeyondTheSpareAreRefused() {
        var rows = PluginRows([pipeline("a", inputs: [.stdin(StdinInput())])])
        let many = pipeline("big", inputs: [InputDefinition](repeating: .stdin(StdinInput()), count: PluginRows.spareInputRows + 1))
        let refused = !rows.assign(slot: 1, many)
        #expect(refused)
        let fits = rows.assign(slot: 1, pipeline("fits", inputs: [InputDefinition](repeating: .stdin(StdinInput()), count: PluginRows.spareInputRows)))
        #expect(fits)
    }
}
