import Foundation
import Glibc
import Testing

/// When each run of `killRepeatedly` gets its SIGKILL.
enum KillMoment {
    /// After a lifetime in this range (milliseconds), drawn with the seeded generator.
    case randomly(milliseconds: ClosedRange<Int>)
    /// Once a condition holds, within `within`: `condition(run)` is called just before the run
    /// starts (so it can take where things stand) and returns the check polled while it lives.
    case once(String, within: Duration, condition: (_ run: Int) throws -> () throws -> Bool)
}

/// What `killRepeatedly` did: the seed of its random moments and a note per run.
struct RepeatedKills: CustomStringConvertible {
    let seed: UInt64
    var runs: [String] = []
    var description: String { "seed \(seed); " + runs.joined(separator: "; ") }

    /// `SLUICE_E2E_SEED=N` repeats a schedule; otherwise a fresh seed.
    static func seed() -> UInt64 {
        ProcessInfo.processInfo.environment["SLUICE_E2E_SEED"].flatMap { UInt64($0) } ?? .random(in: 1...UInt64.max)
    }
}

/// The crash part of the kill tests: starts the node with `arguments` `times` times, one run
/// after the other, and SIGKILLs each at `moment`; every run must end by that signal (a run that
/// exited on its own fails the test). After each kill `note(run)` says where things stood (lines
/// written, rows in the table…). The caller then starts the last run and counts.
@discardableResult
func killRepeatedly(_ arguments: [String], in directory: TemporaryDirectory, times: Int, at moment: KillMoment,
                    note: (_ run: Int) throws -> String = { _ in "" }) throws -> RepeatedKills {
    var kills = RepeatedKills(seed: RepeatedKills.seed())
    var random = SeededRandom(seed: kills.seed)
    for run in 1...times {
        let killed: String
        switch moment {
        case .randomly(let range):
            let lifetimeMillis = Int.random(in: range, using: &random)
            let sluice = try SluiceProcess(arguments, in: directory)
            usleep(UInt32(lifetimeMillis) * 1000)
            sluice.send(signal: SIGKILL)
            #expect(try sluice.waitForExit(within: .seconds(10)) == .signalled(SIGKILL), "run \(run): \(sluice.standardErrorTail())")
            killed = "after \(lifetimeMillis) ms"
        case .once(let what, let timeout, let condition):
            let check = try condition(run)
            let started = ContinuousClock.now
            let sluice = try SluiceProcess(arguments, in: directory)
            try waitUntil("\(what) (run \(run))", within: timeout, while: sluice, check)
            sluice.send(signal: SIGKILL)
            #expect(try sluice.waitForExit(within: .seconds(10)) == .signalled(SIGKILL), "run \(run): \(sluice.standardErrorTail())")
            killed = "after \(what), \(Int((ContinuousClock.now - started) / .milliseconds(1))) ms"
        }
        let noted = try note(run)
        kills.runs.append("run \(run): SIGKILL \(killed)" + (noted.isEmpty ? "" : ", " + noted))
    }
    return kills
}

/// The run after the kills of a followed-file test: starts the node with `arguments`, waits for
/// `writer` to finish and for the offset saved for `input` in `offsets` to reach the file's end
/// (the run caught up), then stops it with SIGTERM, which must end it with exit code 0. The
/// caller counts what arrived (the process's summary is still readable).
func lastRunCatchingUp(_ arguments: [String], in directory: TemporaryDirectory, input: String, offsets: String,
                       writer: NumberedLineAppender, within timeout: Duration = .seconds(60)) throws -> SluiceProcess {
    let last = try SluiceProcess(arguments, in: directory)
    try writer.waitUntilDone(within: .seconds(60))
    let inputBytes = fileSize(input)
    try waitUntil("saved offset \(inputBytes) (the last run caught up)", within: timeout, while: last) {
        try EndToEndTests.CrashRecovery.savedOffset(of: input, in: offsets) == inputBytes
    }
    last.send(signal: SIGTERM)
    #expect(try last.waitForExit(within: .seconds(15)) == .exited(0))
    return last
}
