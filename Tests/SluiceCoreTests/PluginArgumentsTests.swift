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
        #expect(try arguments("p", ("flag", text)).value(Parameter.bool("flag", default: !value, doc: "")) == value)
    }

    @Test func boolRejectsAnythingElseAndDefaultsWhenAbsent() throws {
        let flag = Parameter.bool("flag", default: true, doc: "")
        let error = rejection { () throws(PluginArgumentError) in try arguments("p", ("flag", "maybe")).value(flag) }
        #expect(error?.description == "flag: expected true or false, got 'maybe'")
        #expect(try arguments("p").value(flag))
    }

    @Test func intRejectsNonNumbersAndValuesOutOfRange() throws {
        let n = Parameter.int("n", default: 5, range: 1...100, doc: "")
        for bad in ["abc", "1.5", "", "0", "101", "-3"] {
            let error = rejection { () throws(PluginArgumentError) in try arguments("p", ("n", bad)).value(n) }
            #expect(error?.description == "n: expected an integer in 1...100, got '\(bad)'")
        }
        #expect(try arguments("p", ("n", "100")).value(n) == 100)
        #expect(try arguments("p").value(n) == 5)
    }

    @Test func aDurationIsReadInMicrosecondsAndCheckedAgainstItsMinimum() throws {
        let wait = Parameter.duration("wait", default: "1s", atLeast: "10ms", example: "2s", doc: "")
        #expect(try arguments("p").value(wait) == 1_000_000)
        #expect(try arguments("p", ("wait", "250ms")).value(wait) == 250_000)
        for bad in ["5ms", "soon", "-1s"] {
            let error = rejection { () throws(PluginArgumentError) in try arguments("p", ("wait", bad)).value(wait) }
            #expect(error?.description == "wait: expected a duration of at least 10ms such as 2s, got '\(bad)'")
        }
    }

    @Test func aSizeIsReadInBytesAndCheckedAgainstItsMinimum() throws {
        let range = Parameter.size("range", default: "16MiB", atLeast: "1MiB", example: "16MiB", doc: "")
        #expect(try arguments("p").value(range) == 16 << 20)
        #expect(try arguments("p", ("range", "2M")).value(range) == 2 << 20)
        let error = rejection { () throws(PluginArgumentError) in try arguments("p", ("range", "64KiB")).value(range) }
        #expect(error?.description == "range: expected a size of at least 1MiB such as 16MiB, got '64KiB'")
    }

    enum Mode: String, CaseIterable, Sendable { case first, second, third }

    @Test func aChoiceNamesEveryValueInItsError() throws {
        let mode = Parameter.choice("mode", default: Mode.second, doc: "")
        #expect(try arguments("p").value(mode) == .second)
        #expect(try arguments("p", ("mode", "third")).value(mode) == .third)
        let error = rejection { () throws(PluginArgumentError) in try arguments("p", ("mode", "fourth")).value(mode) }
        #expect(error?.description == "mode: expected first, second or third, got 'fourth'")
    }

    @Test func anOptionalPathIsNilWhenAbsentAndRejectedWhenEmpty() throws {
        let offsets = Parameter.optional("offsets", .path, doc: "")
        #expect(try arguments("p").value(offsets) == nil)
        #expect(try arguments("p", ("offsets", "/a")).value(offsets) == "/a")
        #expect(rejection { () throws(PluginArgumentError) in try arguments("p", ("offsets", "")).value(offsets) }?.description == "offsets: empty path")
    }

    @Test func aRequiredParameterNamesThePluginWhenMissingOrEmpty() throws {
        let listen = Parameter.required("listen", .text, doc: "")
        #expect(rejection { () throws(PluginArgumentError) in try arguments("tcp").value(listen) }?.description == "listen: tcp needs listen=...")
        #expect(rejection { () throws(PluginArgumentError) in try arguments("tcp", ("listen", "")).value(listen) }?.description == "listen: tcp needs listen=...")
        #expect(try arguments("tcp", ("listen", "x")).value(listen) == "x")
    }

    @Test func aRepeatableParameterKeepsEveryValueInOrder() throws {
        let path = Parameter.repeatable("path", .path, required: true, missing: "p needs a path", doc: "")
        #expect(try arguments("p", ("path", "/a"), ("path", "/b")).value(path) == ["/a", "/b"])
        #expect(rejection { () throws(PluginArgumentError) in try arguments("p").value(path) }?.description == "path: p needs a path")
        #expect(rejection { () throws(PluginArgumentError) in try arguments("p", ("path", "/a"), ("path", "")).value(path) }?.description == "path: p needs a path")
    }

    @Test func theDocOfADeclarationCarriesItsDefaultKindAndMarks() {
        let wait = Parameter.duration("wait", default: "5m", atLeast: "10ms", doc: "how long").doc
        #expect(wait.name == "wait" && wait.summary == "how long" && wait.defaultValue == "5m" && wait.kind == "duration ≥ 10ms")
        #expect(!wait.required && !wait.repeated)
        let path = Parameter.repeatable("path", .path, required: true, doc: "").doc
        #expect(path.required && path.repeated && path.defaultValue == nil && path.kind == "path")
        #expect(Parameter.int("n", default: 0, range: 0...Int.max, doc: "").doc.kind == "integer ≥ 0")
        #expect(Parameter.choice("mode", default: Mode.first, doc: "").doc.kind == "first / second / third")
    }
}
