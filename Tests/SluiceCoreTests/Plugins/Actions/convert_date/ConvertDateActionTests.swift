import Testing

@testable import SluiceCore

@Suite struct ConvertDateActionTests {
    @Test(arguments: [
        ("2024-01-02T03:04:05Z", "1704164645"),
        ("2024-01-02T03:04:05.999+03:00", "1704153845"),
        ("2024-01-02 03:04:05-01:30", "1704170045"),
        ("1969-12-31T23:59:59Z", "-1"),
        ("2000-02-29T00:00:00z", "951782400"),
    ])
    func rfc3339ToUnix(text: String, unix: String) throws {
        let run = try ActionRun("convert_date", ("from", "rfc3339"), ("to", "unix"))
        #expect(try run.line(#"{"time":"\#(text)"}"#) == #"{"time":\#(unix)}"#)
    }

    @Test func epochNumbersToRFC3339InUTCAndInAFixedOffset() throws {
        let utc = try ActionRun("convert_date", ("from", "unixms"), ("to", "rfc3339"))
        #expect(try utc.line(#"{"time":1704164645120}"#) == #"{"time":"2024-01-02T03:04:05.12Z"}"#)
        let zoned = try ActionRun("convert_date", ("from", "unix"), ("to", "rfc3339"), ("timezone", "+05:30"))
        #expect(try zoned.line(#"{"time":"1704164645.5"}"#) == #"{"time":"2024-01-02T08:34:05.5+05:30"}"#)
        let ns = try ActionRun("convert_date", ("from", "unixns"), ("to", "rfc3339"))
        #expect(try ns.line(#"{"time":-1}"#) == #"{"time":"1969-12-31T23:59:59.999999999Z"}"#)
    }

    @Test func rfc3339ToMillisecondsAndNanoseconds() throws {
        #expect(try ActionRun("convert_date", ("to", "unixms")).line(#"{"time":"2024-01-02T03:04:05.123456789Z"}"#) == #"{"time":1704164645123}"#)
        #expect(try ActionRun("convert_date", ("to", "unixns")).line(#"{"time":"2024-01-02T03:04:05.123456789Z"}"#) == #"{"time":1704164645123456789}"#)
    }

    @Test func layoutsReadTheCommonDirectives() throws {
        let cases: [(String, String, String)] = [
            ("%Y-%m-%d %H:%M:%S", "2024-01-02 03:04:05", "1704164645"),
            ("%d/%b/%Y:%H:%M:%S %z", "02/Jan/2024:03:04:05 +0100", "1704161045"),
            ("%a, %d %B %Y %T %Z", "Tue, 02 january 2024 03:04:05 GMT", "1704164645"),
            ("%Y%j %I:%M %p", "2024002 03:04 PM", "1704207840"),
            ("%F %T.%L", "2024-01-02 03:04:05.123", "1704164645"),
            ("%s", "1704164645", "1704164645"),
            ("%y-%m-%dT%H:%M:%S.%f%z", "24-01-02T03:04:05.5Z", "1704164645"),
        ]
        for (layout, value, unix) in cases {
            let run = try ActionRun("convert_date", ("from", layout))
            #expect(try run.line(#"{"time":"\#(value)"}"#) == #"{"time":\#(unix)}"#, "\(layout)")
        }
    }

    @Test func rfc3164TakesTheYearOfReceiptAndTheTimezone() throws {
        let run = try ActionRun("convert_date", ("from", "rfc3164"), ("to", "rfc3339"), ("timezone", "+02:00"))
        let event = try makeDecodedEvent(#"{"time":"Mar  5 10:00:00"}"#, in: run.pool)
        event.mutableHeader.pointee.receivedNanos = 1_717_200_000 * 1_000_000_000  // 2024-06-01
        let (after, _) = run.run(event)
        #expect(encoded(after) == #"{"time":"2024-03-05T10:00:00+02:00"}"#)
        // A December line received on the 1st of January belongs to the year before.
        let december = try makeDecodedEvent(#"{"time":"Dec 31 23:59:59"}"#, in: run.pool)
        december.mutableHeader.pointee.receivedNanos = 1_704_067_200 * 1_000_000_000  // 2024-01-01T00:00:00Z
        #expect(encoded(run.run(december).0) == #"{"time":"2023-12-31T23:59:59+02:00"}"#)
    }

    @Test func aNestedTimeIsRewrittenInPlace() throws {
        let run = try ActionRun("convert_date", ("field", "meta.ts"), ("from", "unix"), ("to", "rfc3339"))
        #expect(try run.line(#"{"meta":{"ts":0,"x":"y"}}"#) == #"{"meta":{"ts":"1970-01-01T00:00:00Z","x":"y"}}"#)
    }

    @Test func valuesThatDoNotParseAreLeftAndCounted() throws {
        let run = try ActionRun("convert_date", ("from", "rfc3339"))
        for value in [#""2024-13-02T03:04:05Z""#, #""2024-02-30T03:04:05Z""#, #""""#, #""2024-01-02T03:04:05Zjunk""#, "true", #""2024-01-02""#] {
            let (event, verdict) = run.run(try makeDecodedEvent(#"{"time":\#(value)}"#, in: run.pool))
            #expect(verdict == .pass && !event.has(EventFlags.modified))
        }
        #expect(run.count(.convertDateFailed) == 6)
        let layout = try ActionRun("convert_date", ("from", "%Y-%m-%d"))
        _ = layout.run(try makeDecodedEvent(#"{"time":"2024-1-2x"}"#, in: layout.pool))
        _ = layout.run(try makeDecodedEvent(#"{"time":"2023-02-29"}"#, in: layout.pool))
        #expect(layout.count(.convertDateFailed) == 2)
    }

    @Test func aTimePastWhatNanosecondsHoldIsCounted() throws {
        let run = try ActionRun("convert_date", ("to", "unixns"))
        _ = run.run(try makeDecodedEvent(#"{"time":"2300-01-01T00:00:00Z"}"#, in: run.pool))
        #expect(run.count(.convertDateFailed) == 1)
    }

    @Test func parameterErrorsAreLocated() {
        #expect(parsingRejection("convert_date", ("from", "%Y-%Q"))?.message.contains("unknown directive %Q at offset 3") == true)
        #expect(parsingRejection("convert_date", ("from", "iso"))?.key == "from")
        #expect(parsingRejection("convert_date", ("timezone", "Europe/Paris"))?.key == "timezone")
        #expect(parsingRejection("convert_date", ("to", "rfc3164"))?.key == "to")
        #expect(parsingRejection("convert_date", ("from", "%I:%M"))?.message.contains("%I and %p go together") == true)
    }
}

@Suite struct CivilCalendarTests {
    @Test func daysAndDatesRoundTripAcrossEraAndLeapBoundaries() {
        for days in stride(from: Int64(-800_000), through: 800_000, by: 997) {
            let d = Civil.date(days: days)
            #expect(Civil.days(year: d.year, month: d.month, day: d.day) == days)
        }
        #expect(Civil.days(year: 1970, month: 1, day: 1) == 0)
        #expect(Civil.days(year: 2000, month: 3, day: 1) == 11017)
        #expect(Civil.date(days: -1) == (1969, 12, 31))
    }
}
