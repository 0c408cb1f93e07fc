import Foundation
import Testing

@testable import SluiceCore

@Suite struct SetTimeActionTests {
    private func line(_ nanos: UInt64, format: String) throws -> String {
        let pool = try makePool()
        let action = try SetTimeAction(arguments("set_time", ("field", "t"), ("format", format)), maxEventBytes: 8192, fixedNanos: nanos)
        defer { action.dispose(); action.disposeShared() }
        var context = ActionContext(event: try makeDecodedEvent("{}", in: pool), handle: 0, slab: pool.slabs)
        #expect(action.apply(context: &context, counters: CounterBlock(pipelines: 1), pipeline: 0) == .pass)
        return encodedText(context.event)
    }

    @Test(arguments: [
        (UInt64(0), "1970-01-01T00:00:00.000000000Z"),
        (951_782_400_000_000_001, "2000-02-29T00:00:00.000000001Z"),
        (1_798_761_599_999_999_999, "2026-12-31T23:59:59.999999999Z"),
        (4_107_542_400_123_000_000, "2100-03-01T00:00:00.123000000Z"),
    ])
    func rfc3339IsUTCWithNanoseconds(nanos: UInt64, expected: String) throws {
        #expect(try line(nanos, format: "rfc3339") == #"{"t":"\#(expected)"}"#)
    }

    @Test func rfc3339AgreesWithFoundationOverManyDates() {
        let formatter = ISO8601DateFormatter()
        formatter.timeZone = TimeZone(identifier: "UTC")
        let out = UnsafeMutableRawPointer.allocate(byteCount: 40, alignment: 8)
        defer { out.deallocate() }
        var seconds: UInt64 = 1
        var mismatches: [String] = []
        while seconds < 7_000_000_000 {
            let n = SetTimeAction.writeRFC3339(seconds * 1_000_000_000, into: out)
            let ours = String(decoding: UnsafeRawBufferPointer(start: out + 1, count: n - 2), as: UTF8.self)
            let theirs = formatter.string(from: Date(timeIntervalSince1970: Double(seconds)))
            if ours.prefix(19) != theirs.prefix(19) { mismatches.append("\(ours) vs \(theirs)") }
            seconds = seconds * 3 + 86_399
        }
        #expect(mismatches.isEmpty)
    }

    @Test func unixMillisecondsIsANumber() throws {
        #expect(try line(1_733_335_465_123_999_999, format: "unixms") == #"{"t":1733335465123}"#)
        #expect(try line(0, format: "unixms") == #"{"t":0}"#)
    }

    @Test func theClockIsReadPerEvent() throws {
        let run = try EditActionRun("set_time", ("field", "a.t"), ("format", "unixms"))
        defer { run.dispose() }
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        let before = Int(ts.tv_sec) * 1000
        let object = encodedObjectOf(try run.line(#"{"a":{}}"#))
        let t = try #require((object?["a"] as? [String: Any])?["t"] as? Int)
        #expect(t >= before && t < before + 3_600_000)
    }

    @Test func parameterErrorsNameTheKey() {
        #expect(editActionRejection("set_time", ("format", "iso"))?.key == "format")
        #expect(editActionRejection("set_time", ("field", ""))?.key == "field")
    }
}
