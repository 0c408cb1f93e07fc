import Testing

@testable import SluiceCore

@Suite struct ConvertLogLevelActionTests {
    @Test(arguments: [("emerg", 0), ("PANIC", 0), ("alert", 1), ("crit", 2), ("Fatal", 2), ("critical", 2), ("err", 3), ("ERROR", 3),
                      ("warning", 4), ("WARN", 4), (" warn ", 4), ("notice", 5), ("info", 6), ("Informational", 6), ("debug", 7),
                      ("trace", 7), ("4", 4), ("0", 0)])
    func levelsMapToSyslogSeverities(level: String, severity: Int) throws {
        let run = try ActionRun("convert_log_level", ("style", "number"))
        #expect(try run.line(#"{"level":"\#(level)"}"#) == #"{"level":\#(severity)}"#)
    }

    @Test func stylesWriteNamesInLowerOrUpperCase() throws {
        #expect(try ActionRun("convert_log_level", ("style", "lower")).line(#"{"level":"WARN"}"#) == #"{"level":"warning"}"#)
        #expect(try ActionRun("convert_log_level", ("style", "upper")).line(#"{"level":3}"#) == #"{"level":"ERROR"}"#)
        #expect(try ActionRun("convert_log_level", ("style", "lower")).line(#"{"level":"info"}"#) == #"{"level":"informational"}"#)
    }

    @Test func aNestedLevelIsRewrittenInPlace() throws {
        let run = try ActionRun("convert_log_level", ("field", "log.severity"), ("style", "lower"))
        #expect(try run.line(#"{"log":{"severity":"E","x":1}}"#) == #"{"log":{"severity":"E","x":1}}"#)
        #expect(try run.line(#"{"log":{"severity":"fatal","x":1}}"#) == #"{"log":{"severity":"critical","x":1}}"#)
        #expect(run.count(.convertLogLevelFailed) == 1)
    }

    @Test func aLevelAlreadyInTheStyleLeavesTheEventUnmodified() throws {
        let run = try ActionRun("convert_log_level", ("style", "number"))
        let (event, _) = run.run(try makeDecodedEvent(#"{"level":6}"#, in: run.pool))
        #expect(!event.has(EventFlags.modified))
    }

    @Test func unknownLevelsWrongTypesAndEmptyStringsAreLeftAndCounted() throws {
        let run = try ActionRun("convert_log_level")
        for json in [#"{"level":"verbose"}"#, #"{"level":"8"}"#, #"{"level":""}"#, #"{"level":true}"#, #"{"level":"informationally-long"}"#] {
            let (event, verdict) = run.run(try makeDecodedEvent(json, in: run.pool))
            #expect(verdict == .pass && !event.has(EventFlags.modified))
        }
        _ = run.run(try makeDecodedEvent(#"{"lvl":"info"}"#, in: run.pool))
        #expect(run.count(.convertLogLevelFailed) == 5)
    }

    @Test func aBadStyleIsAnErrorNamingTheChoices() {
        let error = parsingRejection("convert_log_level", ("style", "title"))
        #expect(error?.key == "style")
        #expect(error?.message == "expected number, lower or upper, got 'title'")
    }
}
