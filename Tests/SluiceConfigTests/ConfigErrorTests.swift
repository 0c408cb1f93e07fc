import Testing

@testable import SluiceConfig

@Suite struct ConfigErrorTests {
    @Test func aLocatedErrorReadsFileLineColumnMessage() {
        let location = SluiceConfig.SourceLocation(file: "sluice.yaml", line: 7, column: 9)
        #expect(location.description == "sluice.yaml:7:9")
        #expect(ConfigError("boom", location: location, spec: "x").description == "sluice.yaml:7:9: boom")
    }

    @Test func aSpecErrorNamesTheSpec() {
        #expect(ConfigError("boom", spec: "discard:field").description == "spec 'discard:field': boom")
    }

    @Test func anErrorWithoutContextIsItsMessage() {
        #expect(ConfigError("boom").description == "boom")
    }
}
