import Testing

@testable import SluiceCore

private func action(_ type: String, _ pairs: (String, String)...) throws(PluginArgumentError) -> Action {
    try Action.make(type: type, PluginArguments(plugin: type, pairs: pairs.map { (key: $0.0, value: $0.1) }), maxEventBytes: 8192)
}

private func actionRejection(_ type: String, _ pairs: (String, String)...) -> PluginArgumentError? {
    rejection { () throws(PluginArgumentError) in
        try Action.make(type: type, PluginArguments(plugin: type, pairs: pairs.map { (key: $0.0, value: $0.1) }), maxEventBytes: 8192)
    }
}

/// The value of `field` after `modify` ran on the decoded `json`, or nil when it was not set.
private func modified(_ json: String, by modify: Action, field: String = "x") throws -> String? {
    let pool = try makePool()
    let event = try makeDecodedEvent(json, in: pool)
    #expect(modify.apply(event, counters: CounterBlock(pipelines: 1), pipeline: 0, in: pool) == .pass)
    return fieldTexts(event).last(where: { $0.key == field })?.value
}

@Suite struct ConditionTests {
    @Test func anActionAppliesOnlyToEventsItsConditionMatches() throws {
        let modify = try action("modify", ("field", "x"), ("value", "1"), ("if-field", "user"), ("if-prefix", "u1"))
        #expect(try modified(#"{"user":"u17"}"#, by: modify) == #""1""#)
        #expect(try modified(#"{"user":"u27"}"#, by: modify) == nil)
        #expect(try modified(#"{"other":"u1"}"#, by: modify) == nil, "an event without the field does not match")
        #expect(try modified(#"{"user":"u\u0031x"}"#, by: modify) == #""1""#, "strings are compared after unescaping")
    }

    @Test func everyTestKindIsAvailable() throws {
        let json = #"{"path":"/api/v1/users","code":404,"ok":true}"#
        #expect(try modified(json, by: action("modify", ("field", "x"), ("value", "1"), ("if-field", "code"), ("if-equals", "404"))) != nil)
        #expect(try modified(json, by: action("modify", ("field", "x"), ("value", "1"), ("if-field", "ok"), ("if-equals", "true"))) != nil)
        #expect(try modified(json, by: action("modify", ("field", "x"), ("value", "1"), ("if-field", "path"), ("if-contains", "v1"))) != nil)
        #expect(try modified(json, by: action("modify", ("field", "x"), ("value", "1"), ("if-field", "path"), ("if-matches", "/api/*/users"))) != nil)
        #expect(try modified(json, by: action("modify", ("field", "x"), ("value", "1"), ("if-field", "path"), ("if-matches", "/api/*/user"))) == nil)
    }

    @Test func ifRegexMatchesThePCRE2PatternAgainstTheUnescapedValueOrTheJSONText() throws {
        let modify = try action("modify", ("field", "x"), ("value", "1"), ("if-field", "msg"), ("if-regex", #"^(?i)disk \w+ on sd[a-z]\d$"#))
        #expect(try modified(#"{"msg":"Disk full on sda1"}"#, by: modify) != nil)
        #expect(try modified(#"{"msg":"disk full on sda12"}"#, by: modify) == nil)
        #expect(try modified(#"{"msg":"disk\u0020full on sdb2"}"#, by: modify) != nil, "escapes are decoded first")
        let status = try action("modify", ("field", "x"), ("value", "1"), ("if-field", "code"), ("if-regex", #"^5\d\d$"#))
        #expect(try modified(#"{"code":503}"#, by: status) != nil)
        #expect(try modified(#"{"code":404}"#, by: status) == nil)
        #expect(try modified(#"{"msg":"пользователь 😀 ok"}"#, by: action("modify", ("field", "x"), ("value", "1"), ("if-field", "msg"), ("if-regex", #"^\S+ . ok$"#))) != nil,
                "UTF-8 is matched as characters: . is the whole emoji (\\w stays ASCII, as in RE2)")
    }

    @Test func aBadRegexIsAConfigErrorWithItsOffset() {
        let error = actionRejection("json_decode", ("if-field", "msg"), ("if-regex", "ab(c"))
        #expect(error?.key == "if-regex")
        #expect(error?.message == "bad pattern at offset 4: missing closing parenthesis")
    }

    @Test func ifNotInvertsTheWholeCondition() throws {
        let modify = try action("modify", ("field", "x"), ("value", "1"), ("if-field", "user"), ("if-prefix", "u1"), ("if-not", "true"))
        #expect(try modified(#"{"user":"u17"}"#, by: modify) == nil)
        #expect(try modified(#"{"user":"u27"}"#, by: modify) == #""1""#)
        #expect(try modified(#"{"other":1}"#, by: modify) == #""1""#, "without the field the group does not match, so the inverse does")
    }

    @Test func groupsCombineWithAndByDefaultAndWithOrWhenAsked() throws {
        let both = try action("modify", ("field", "x"), ("value", "1"),
                              ("if-field", "type"), ("if-equals", "view"), ("if-field", "user"), ("if-prefix", "u1"))
        #expect(try modified(#"{"type":"view","user":"u1"}"#, by: both) != nil)
        #expect(try modified(#"{"type":"view","user":"u2"}"#, by: both) == nil)
        #expect(try modified(#"{"type":"click","user":"u1"}"#, by: both) == nil)
        let either = try action("modify", ("field", "x"), ("value", "1"),
                                ("if-field", "type"), ("if-equals", "view"), ("if-field", "user"), ("if-prefix", "u1"), ("if-mode", "or"))
        #expect(try modified(#"{"type":"view","user":"u2"}"#, by: either) != nil)
        #expect(try modified(#"{"type":"click","user":"u1"}"#, by: either) != nil)
        #expect(try modified(#"{"type":"click","user":"u2"}"#, by: either) == nil)
    }

    @Test func theNthTestBelongsToTheNthFieldSoYAMLListsReadLikeTheCLISpec() throws {
        // As YAML `if-field: [type, user]`, `if-equals: view`, `if-prefix: u1` arrive.
        let listed = try action("modify", ("field", "x"), ("value", "1"),
                                ("if-field", "type"), ("if-field", "user"), ("if-equals", "view"), ("if-prefix", "u1"))
        #expect(try modified(#"{"type":"view","user":"u1"}"#, by: listed) != nil)
        #expect(try modified(#"{"type":"view","user":"u2"}"#, by: listed) == nil)
    }

    @Test func discardDropsWhatItsConditionMatchesInEitherSpelling() throws {
        let pool = try makePool()
        let counters = CounterBlock(pipelines: 1)
        for discard in [try action("discard", ("if-field", "type"), ("if-equals", "view")), try action("discard", ("field", "type"), ("equals", "view"))] {
            #expect(discard.apply(try makeDecodedEvent(#"{"type":"view"}"#, in: pool), counters: counters, pipeline: 0, in: pool) == .drop)
            #expect(discard.apply(try makeDecodedEvent(#"{"type":"click"}"#, in: pool), counters: counters, pipeline: 0, in: pool) == .pass)
            #expect(discard.apply(makeEvent(#"{"type":"view"}"#, in: pool), counters: counters, pipeline: 0, in: pool) == .pass, "not decoded")
        }
        let notView = try action("discard", ("if-field", "type"), ("if-equals", "view"), ("if-not", "true"))
        #expect(notView.apply(try makeDecodedEvent(#"{"type":"view"}"#, in: pool), counters: counters, pipeline: 0, in: pool) == .pass)
        #expect(notView.apply(try makeDecodedEvent(#"{"type":"click"}"#, in: pool), counters: counters, pipeline: 0, in: pool) == .drop)
    }

    @Test func aFieldPastTheMaxFieldsIndexIsSeenByTheCondition() throws {
        let pool = try makePool(maxFields: 8)
        let counters = CounterBlock(pipelines: 1)
        let line = "{" + (0..<12).map { #""k\#($0)":"v\#($0)""# }.joined(separator: ",") + "}"
        #expect(try makeDecodedEvent(line, in: pool).has(EventFlags.fieldsTruncated))
        let matching = try action("discard", ("if-field", "k10"), ("if-equals", "v10"))
        #expect(matching.apply(try makeDecodedEvent(line, in: pool), counters: counters, pipeline: 0, in: pool) == .drop)
        let other = try action("discard", ("if-field", "k10"), ("if-equals", "v9"))
        #expect(other.apply(try makeDecodedEvent(line, in: pool), counters: counters, pipeline: 0, in: pool) == .pass)
        let absent = try action("discard", ("if-field", "k12"), ("if-equals", "v12"))
        #expect(absent.apply(try makeDecodedEvent(line, in: pool), counters: counters, pipeline: 0, in: pool) == .pass)
    }

    @Test func aDiscardWithoutAnyConditionIsRefused() {
        #expect(actionRejection("discard")?.message == "discard needs a condition, e.g. if-field=type,if-equals=view (without one it would drop every event)")
    }

    @Test func malformedConditionsAreRejectedNamingTheKey() {
        let noField = actionRejection("modify", ("field", "x"), ("value", "1"), ("if-equals", "a"))
        #expect(noField?.key == "if-equals")
        #expect(noField?.message == "a condition needs if-field=PATH before its test")
        let noTest = actionRejection("modify", ("field", "x"), ("value", "1"), ("if-field", "a"))
        #expect(noTest?.key == "if-field")
        #expect(noTest?.message == "each if-field needs exactly one test of if-equals=, if-prefix=, if-contains=, if-matches=, if-regex= (1 field(s), 0 test(s))")
        #expect(actionRejection("json_decode", ("if-field", "a"), ("if-equals", "b"), ("if-mode", "xor"))?.message == "expected and or or, got 'xor'")
        #expect(actionRejection("json_decode", ("if-field", "a"), ("if-equals", "b"), ("if-not", "maybe"))?.key == "if-not")
        #expect(actionRejection("json_decode", ("if-field", "a..b"), ("if-equals", "b"))?.message == "'a..b' has an empty path component")
        let unknown = actionRejection("json_decode", ("if-feild", "a"))
        #expect(unknown?.key == "if-feild")
    }

    @Test func eachWorkerCopyHasItsOwnScratch() throws {
        let shared = try action("modify", ("field", "x"), ("value", "1"), ("if-field", "msg"), ("if-prefix", "a\"b"))
        let first = shared.forWorker(), second = shared.forWorker()
        #expect(first.condition!.scratch != shared.condition!.scratch)
        #expect(first.condition!.scratch != second.condition!.scratch)
        #expect(try modified(#"{"msg":"a\"bc"}"#, by: first) != nil)
        first.dispose()
        second.dispose()
    }
}
