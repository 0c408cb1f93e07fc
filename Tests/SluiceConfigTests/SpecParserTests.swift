import Testing

@testable import SluiceConfig

@Suite struct SpecParserTests {
    @Test func aBareTypeIsAPluginWithoutParams() throws {
        let spec = try SpecParser.parse("stdin")
        #expect(spec == PluginSpec(type: "stdin", params: [], location: nil, origin: "stdin"))
    }

    @Test func paramsFollowTheTypeInTheOrderWritten() throws {
        let spec = try SpecParser.parse("discard:field=type,equals=view")
        #expect(spec.type == "discard")
        #expect(spec.params == [ConfigParam(key: "field", value: "type"), ConfigParam(key: "equals", value: "view")])
    }

    @Test func theSpecTextIsTheOriginAndThereIsNoFileLocation() throws {
        let spec = try SpecParser.parse("tcp:listen=127.0.0.1:5140")
        #expect(spec.origin == "tcp:listen=127.0.0.1:5140")
        #expect(spec.location == nil)
        #expect(spec.params.allSatisfy { $0.location == nil })
    }

    @Test func typeNamesKeepUnderscoresAndDigits() throws {
        #expect(try SpecParser.parse("json_decode2").type == "json_decode2")
    }

    @Test func aValueMayContainColons() throws {
        #expect(try SpecParser.parse("tcp:listen=127.0.0.1:5140").value("listen")?.value == "127.0.0.1:5140")
    }

    @Test func aParamSplitsAtItsFirstEqualsSign() throws {
        let spec = try SpecParser.parse("discard:equals=a=b")
        #expect(spec.params == [ConfigParam(key: "equals", value: "a=b")])
    }

    @Test func anEmptyValueIsAllowed() throws {
        #expect(try SpecParser.parse("discard:equals=").params == [ConfigParam(key: "equals", value: "")])
    }

    @Test func anEscapedCommaIsPartOfTheValue() throws {
        let spec = try SpecParser.parse(#"discard:equals=a\,b,field=x"#)
        #expect(spec.params == [ConfigParam(key: "equals", value: "a,b"), ConfigParam(key: "field", value: "x")])
    }

    @Test func anEscapedBackslashIsOneBackslash() throws {
        let spec = try SpecParser.parse(#"file:path=C:\\logs\\,x=\\\,"#)
        #expect(spec.params == [ConfigParam(key: "path", value: #"C:\logs\"#), ConfigParam(key: "x", value: #"\,"#)])
    }

    @Test func aRepeatedKeyKeepsEveryValueInOrder() throws {
        let spec = try SpecParser.parse("file:path=/a.log,path=/b.log")
        #expect(spec.values("path").map(\.value) == ["/a.log", "/b.log"])
        #expect(spec.value("path")?.value == "/b.log")
    }

    @Test func keysAreNormalizedLikeConfigFileKeys() throws {
        let spec = try SpecParser.parse("file:batch_size=512")
        #expect(spec.params == [ConfigParam(key: "batch-size", value: "512")])
    }

    @Test(arguments: [
        ("", "spec '': empty plugin spec: write type or type:key=value,key=value"),
        (":field=x", "spec ':field=x': empty plugin type before ':': write type:key=value"),
        ("Discard", #"spec 'Discard': invalid plugin type "Discard": use lowercase letters, digits and '_'"#),
        (
            "json-decode:x=1",
            #"spec 'json-decode:x=1': invalid plugin type "json-decode": use lowercase letters, digits and '_'"#
        ),
        ("file.x", #"spec 'file.x': invalid plugin type "file.x": use lowercase letters, digits and '_'"#),
        ("discard:field", #"spec 'discard:field': expected key=value in "field""#),
        ("discard:field=x,equals", #"spec 'discard:field=x,equals': expected key=value in "equals""#),
        ("discard:=view", #"spec 'discard:=view': empty key in "=view": write key=value"#),
        (
            "discard:field=x,",
            "spec 'discard:field=x,': empty parameter (a stray ',' or a ':' with nothing after it): write key=value"
        ),
        (
            "discard:field=x,,a=b",
            "spec 'discard:field=x,,a=b': empty parameter (a stray ',' or a ':' with nothing after it): write key=value"
        ),
        ("discard:", "spec 'discard:': empty parameter (a stray ',' or a ':' with nothing after it): write key=value"),
        (#"grep:match=\d+"#, #"spec 'grep:match=\d+': unknown escape "\d": write \\ for a backslash, \, for a comma"#),
        (#"grep:match=a\"#, #"spec 'grep:match=a\': unknown escape "\": write \\ for a backslash, \, for a comma"#),
    ])
    func malformedSpecsAreRejectedNamingTheSpecAndThePart(spec: String, expected: String) {
        let error = #expect(throws: ConfigError.self) { try SpecParser.parse(spec) }
        #expect(error?.description == expected)
        #expect(error?.spec == spec)
        #expect(error?.location == nil)
    }
}
