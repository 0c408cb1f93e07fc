import Testing

@testable import SluiceCore

private let documented = [
    ParameterDoc("path", "a path", required: true, repeated: true),
    ParameterDoc("follow", "follow", default: "false"),
    ParameterDoc("depth", "depth"),
]

@Suite struct PluginArgumentsTests {
    @Test func anUnknownKeyIsRejectedNamingTheKnownKeys() {
        let given = arguments("file", ("path", "/a"), ("folow", "true"))
        let error = rejection { () throws(PluginArgumentError) in try given.checkKnown(documented) }
        #expect(error?.key == "folow")
        #expect(error?.description == "folow: file has no parameter 'folow' (it takes: path, follow, depth)")
    }

    @Test func aPluginWithoutParametersSaysItTakesNone() {
        let error = rejection { () throws(PluginArgumentError) in try arguments("stdin", ("x", "1")).checkKnown([]) }
        #expect(error?.message == "stdin has no parameter 'x' (it takes none)")
    }

    @Test func aRepeatedKeyIsRejectedUnlessDeclaredRepeatable() {
        let repeated = arguments("file", ("path", "/a"), ("follow", "true"), ("follow", "false"))
        let error = rejection { () throws(PluginArgumentError) in try repeated.checkKnown(documented) }
        #expect(error?.key == "follow")
        #expect(error?.message == "given more than once")
        let paths = arguments("file", ("path", "/a"), ("path", "/b"))
        #expect(rejection { () throws(PluginArgumentError) in try paths.checkKnown(documented) } == nil)
        #expect(paths.all("path") == ["/a", "/b"])
    }

    @Test func stringReturnsTheLastValueOfAKey() {
        let given = arguments("file", ("path", "/a"), ("path", "/b"))
        #expect(given.string("path") == "/b")
        #expect(given.string("follow") == nil)
    }

    @Test func requiredRejectsAMissingOrEmptyValue() throws {
        #expect(rejection { () throws(PluginArgumentError) in try arguments("tcp").required("listen") }?.description == "listen: tcp needs listen=...")
        #expect(rejection { () throws(PluginArgumentError) in try arguments("tcp", ("listen", "")).required("listen") } != nil)
        #expect(try arguments("tcp", ("listen", "x")).required("listen") == "x")
    }

    @Test(arguments: [("true", true), ("YES", true), ("on", true), ("1", true), ("false", false), ("No", false), ("off", false), ("0", false)])
    func boolAcceptsTheUsualSpellings(text: String, value: Bool) throws {
        #expect(try arguments("p", ("flag", text)).bool("flag", default: !value) == value)
    }

    @Test func boolRejectsAnythingElseAndDefaultsWhenAbsent() throws {
        let error = rejection { () throws(PluginArgumentError) in try arguments("p", ("flag", "maybe")).bool("flag", default: false) }
        #expect(error?.description == "flag: expected true or false, got 'maybe'")
        #expect(try arguments("p").bool("flag", default: true))
    }

    @Test func intRejectsNonNumbersAndValuesOutOfRange() throws {
        for bad in ["abc", "1.5", "", "0", "101", "-3"] {
            let error = rejection { () throws(PluginArgumentError) in try arguments("p", ("n", bad)).int("n", default: 5, range: 1...100) }
            #expect(error?.description == "n: expected an integer in 1...100, got '\(bad)'")
        }
        #expect(try arguments("p", ("n", "100")).int("n", default: 5, range: 1...100) == 100)
        #expect(try arguments("p").int("n", default: 5, range: 1...100) == 5)
    }

    @Test func doubleRejectsNegativeAndNonFiniteNumbers() throws {
        for bad in ["-1", "inf", "nan", "x"] {
            let error = rejection { () throws(PluginArgumentError) in try arguments("p", ("r", bad)).double("r", default: 1) }
            #expect(error?.message == "expected a non-negative number, got '\(bad)'")
        }
        #expect(try arguments("p", ("r", "2.5")).double("r", default: 1) == 2.5)
    }
}
