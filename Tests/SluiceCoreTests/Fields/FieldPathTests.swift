import Testing

@testable import SluiceCore

@Suite struct FieldPathTests {
    @Test func lookupFindsTopLevelAndNestedValuesWithTheirKind() throws {
        let pool = try makePool()
        let event = try makeDecodedEvent(#"{"a":{"b":{"c":[1]}},"s":"x"}"#, in: pool)
        let nested = try #require(try FieldPath("a.b.c").lookup(event))
        #expect(text(nested.value) == "[1]")
        #expect(nested.kind == .array)
        let top = try #require(try FieldPath("s").lookup(event))
        #expect(text(top.value) == #""x""#)
        #expect(top.kind == .string)
        #expect(try FieldPath("a.x").lookup(event) == nil)
        #expect(try FieldPath("s.x").lookup(event) == nil)
        #expect(try FieldPath("a.b").isTopLevel == false)
        #expect(try FieldPath("a").isTopLevel)
    }

    @Test func emptyNamesAndComponentsAreRejected() {
        #expect(rejection { () throws(PluginArgumentError) in try FieldPath("") }?.message == "empty field name")
        #expect(rejection { () throws(PluginArgumentError) in try FieldPath("a.") }?.message == "'a.' has an empty path component")
    }
}
