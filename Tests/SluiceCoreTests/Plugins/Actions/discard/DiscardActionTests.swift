import Testing

@testable import SluiceCore

/// Whether `discard` with `pairs` drops the decoded `json`.
private func discards(_ json: String, _ pairs: (String, String)...) throws -> Bool {
    let pool = try makePool()
    let action = try DiscardAction(PluginArguments(plugin: "discard", pairs: pairs.map { (key: $0.0, value: $0.1) }), maxEventBytes: 8192)
    return action.shouldDiscard(try makeDecodedEvent(json, in: pool))
}

private func discardRejection(_ pairs: (String, String)...) -> PluginArgumentError? {
    rejection { () throws(PluginArgumentError) in
        try DiscardAction(PluginArguments(plugin: "discard", pairs: pairs.map { (key: $0.0, value: $0.1) }), maxEventBytes: 8192)
    }
}

@Suite struct DiscardActionTests {
    // MARK: - equals

    @Test func equalsDropsAStringFieldWithThatValue() throws {
        #expect(try discards(#"{"type":"view","n":1}"#, ("field", "type"), ("equals", "view")))
        #expect(try !discards(#"{"type":"click","n":1}"#, ("field", "type"), ("equals", "view")))
        #expect(try !discards(#"{"type":"views"}"#, ("field", "type"), ("equals", "view")))
        #expect(try !discards(#"{"type":"vie"}"#, ("field", "type"), ("equals", "view")))
    }

    @Test func equalsComparesStringsAfterUnescaping() throws {
        #expect(try discards(#"{"msg":"say \"hi\""}"#, ("field", "msg"), ("equals", #"say "hi""#)))
        #expect(try discards(#"{"msg":"caf\u00e9"}"#, ("field", "msg"), ("equals", "café")))
        #expect(try discards(#"{"msg":"a\nb\\c"}"#, ("field", "msg"), ("equals", "a\nb\\c")))
        #expect(try discards(#"{"msg":"\ud83d\ude00"}"#, ("field", "msg"), ("equals", "😀")))
        #expect(try !discards(#"{"msg":"a\nb"}"#, ("field", "msg"), ("equals", #"a\nb"#)))
    }

    @Test func equalsFindsAFieldWhoseKeyIsEscaped() throws {
        #expect(try discards(#"{"ty\u0070e":"view"}"#, ("field", "type"), ("equals", "view")))
    }

    @Test func equalsComparesNumbersAndLiteralsByTheirJSONText() throws {
        #expect(try discards(#"{"code":42}"#, ("field", "code"), ("equals", "42")))
        #expect(try !discards(#"{"code":42.0}"#, ("field", "code"), ("equals", "42")))
        #expect(try !discards(#"{"code":420}"#, ("field", "code"), ("equals", "42")))
        #expect(try discards(#"{"ok":true}"#, ("field", "ok"), ("equals", "true")))
        #expect(try discards(#"{"v":null}"#, ("field", "v"), ("equals", "null")))
        #expect(try !discards(#"{"v":"42"}"#, ("field", "v"), ("equals", #""42""#)), "a string compares by its content, not its quotes")
    }

    @Test func equalsMatchesAnEmptyStringOnlyWithAnEmptyPattern() throws {
        #expect(try discards(#"{"s":""}"#, ("field", "s"), ("equals", "")))
        #expect(try !discards(#"{"s":"x"}"#, ("field", "s"), ("equals", "")))
    }

    @Test func dottedPathsReachIntoNestedObjects() throws {
        let json = #"{"request":{"method":"GET","user":{"id":7,"name":"ann"}},"method":"POST"}"#
        #expect(try discards(json, ("field", "request.method"), ("equals", "GET")))
        #expect(try !discards(json, ("field", "request.method"), ("equals", "POST")))
        #expect(try discards(json, ("field", "request.user.id"), ("equals", "7")))
        #expect(try discards(json, ("field", "request.user.name"), ("prefix", "an")))
        #expect(try !discards(json, ("field", "request.path"), ("equals", "GET")))
        #expect(try !discards(json, ("field", "request.method.x"), ("equals", "GET")), "a path through a string finds nothing")
        #expect(try !discards(#"{"request":[{"method":"GET"}]}"#, ("field", "request.method"), ("equals", "GET")))
    }

    // MARK: - prefix, contains, matches

    @Test func prefixDropsValuesStartingWithThePattern() throws {
        #expect(try discards(#"{"path":"/api/v1/users"}"#, ("field", "path"), ("prefix", "/api")))
        #expect(try !discards(#"{"path":"/api/v1/users"}"#, ("field", "path"), ("prefix", "/v1")))
        #expect(try !discards(#"{"path":"/a"}"#, ("field", "path"), ("prefix", "/api")))
        #expect(try discards(#"{"path":"\/api\/v1"}"#, ("field", "path"), ("prefix", "/api/")), "escapes are decoded first")
        #expect(try discards(#"{"code":404}"#, ("field", "code"), ("prefix", "40")))
    }

    @Test func containsDropsValuesHoldingThePattern() throws {
        #expect(try discards(#"{"msg":"disk full on sda1"}"#, ("field", "msg"), ("contains", "full")))
        #expect(try discards(#"{"msg":"disk full on sda1"}"#, ("field", "msg"), ("contains", "sda1")))
        #expect(try !discards(#"{"msg":"disk full on sda1"}"#, ("field", "msg"), ("contains", "sdb")))
        #expect(try !discards(#"{"msg":"ab"}"#, ("field", "msg"), ("contains", "abc")))
        #expect(try discards(#"{"msg":"tab\there"}"#, ("field", "msg"), ("contains", "b\th")))
        #expect(try discards(#"{"n":12345}"#, ("field", "n"), ("contains", "234")))
        #expect(try discards(#"{"msg":"aab"}"#, ("field", "msg"), ("contains", "ab")), "a failed first match is retried further on")
    }

    @Test func matchesDropsValuesMatchingTheGlob() throws {
        let json = #"{"path":"/api/v1/users"}"#
        #expect(try discards(json, ("field", "path"), ("matches", "/api/*")))
        #expect(try discards(json, ("field", "path"), ("matches", "*/users")))
        #expect(try discards(json, ("field", "path"), ("matches", "/api/v?/*s")))
        #expect(try discards(json, ("field", "path"), ("matches", "*")))
        #expect(try !discards(json, ("field", "path"), ("matches", "/api/v?")))
        #expect(try !discards(json, ("field", "path"), ("matches", "/api")))
        #expect(try !discards(json, ("field", "path"), ("matches", "*/user")))
        #expect(try discards(#"{"s":""}"#, ("field", "s"), ("matches", "*")))
        #expect(try !discards(#"{"s":""}"#, ("field", "s"), ("matches", "?")))
        #expect(try discards(#"{"s":"aaab"}"#, ("field", "s"), ("matches", "*a*ab")), "backtracks past an earlier star match")
    }

    // MARK: - Events that pass

    @Test func anEventWithoutTheFieldPasses() throws {
        #expect(try !discards(#"{"other":"view"}"#, ("field", "type"), ("equals", "view")))
        #expect(try !discards(#"{}"#, ("field", "type"), ("matches", "*")))
    }

    @Test func anEventThatIsNotDecodedPasses() throws {
        let pool = try makePool()
        let action = try DiscardAction(arguments("discard", ("field", "type"), ("equals", "view")), maxEventBytes: 8192)
        #expect(!action.shouldDiscard(makeEvent(#"{"type":"view"}"#, in: pool)), "json_decode never ran")
        #expect(!action.shouldDiscard(try makeDecodedEvent(#"{"type":"view""#, in: pool)), "invalid JSON")
        #expect(try !discards(#"["type","view"]"#, ("field", "type"), ("equals", "view")))
    }

    @Test func theActionDropsAMatchingEventAndPassesOthers() throws {
        let pool = try makePool()
        let action = Action.discard(try DiscardAction(arguments("discard", ("field", "type"), ("equals", "view")), maxEventBytes: 8192))
        let counters = CounterBlock(pipelines: 1)
        #expect(action.apply(try makeDecodedEvent(#"{"type":"view"}"#, in: pool), counters: counters, pipeline: 0, in: pool) == .drop)
        #expect(action.apply(try makeDecodedEvent(#"{"type":"click"}"#, in: pool), counters: counters, pipeline: 0, in: pool) == .pass)
    }

    @Test func eachWorkerCopyHasItsOwnScratchAndTheSameRule() throws {
        let pool = try makePool()
        let shared = try DiscardAction(arguments("discard", ("field", "msg"), ("prefix", "a\"b")), maxEventBytes: 8192)
        let first = shared.forWorker()
        let second = shared.forWorker()
        #expect(first.scratch != shared.scratch)
        #expect(first.scratch != second.scratch)
        let event = try makeDecodedEvent(#"{"msg":"a\"bc"}"#, in: pool)
        #expect(first.shouldDiscard(event))
        #expect(second.shouldDiscard(event))
    }

    // MARK: - Configuration

    @Test func exactlyOneModeMustBeGiven() {
        #expect(discardRejection(("field", "type"))?.message == "discard needs exactly one of equals=, prefix=, contains=, matches= (got 0)")
        #expect(discardRejection(("field", "type"), ("equals", "a"), ("prefix", "b"))?.message
            == "discard needs exactly one of equals=, prefix=, contains=, matches= (got 2)")
        #expect(discardRejection(("field", "type"), ("contains", "a")) == nil)
    }

    @Test func theFieldIsRequired() {
        let error = discardRejection(("equals", "view"))
        #expect(error?.key == "field")
        #expect(error?.message == "discard needs field=...")
    }

    @Test func aFieldPathWithAnEmptyComponentIsRejected() {
        #expect(discardRejection(("field", "a..b"), ("equals", "x"))?.message == "'a..b' has an empty path component")
        #expect(discardRejection(("field", ".a"), ("equals", "x"))?.message == "'.a' has an empty path component")
    }

    @Test func aRepeatedModeIsRejected() {
        let error = discardRejection(("field", "type"), ("equals", "a"), ("equals", "b"))
        #expect(error?.key == "equals")
        #expect(error?.message == "given more than once")
    }
}
