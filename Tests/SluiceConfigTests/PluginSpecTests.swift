import Testing

@testable import SluiceConfig

@Suite struct PluginSpecTests {
    private let spec = PluginSpec(
        type: "file",
        params: [
            ConfigParam(key: "path", value: "/a.log"),
            ConfigParam(key: "batch-size", value: "1"),
            ConfigParam(key: "path", value: "/b.log"),
        ],
        origin: "file:path=/a.log,batch-size=1,path=/b.log")

    @Test func valuesListsEveryValueOfAKeyInOrder() {
        #expect(spec.values("path").map(\.value) == ["/a.log", "/b.log"])
    }

    @Test func valueIsTheLastOneGiven() {
        #expect(spec.value("path")?.value == "/b.log")
    }

    @Test func lookupsAcceptUnderscoreOrDash() {
        #expect(spec.value("batch_size")?.value == "1")
        #expect(spec.value("batch-size")?.value == "1")
    }

    @Test func anAbsentKeyHasNoValue() {
        #expect(spec.value("follow") == nil)
        #expect(spec.values("follow").isEmpty)
    }
}
