import Glibc

/// Test-only: a stall injected into one worker so the end-to-end tests can exercise supervision
/// (stall detection, `/ready`, the stall metric, `--on-stall`, the systemd watchdog). Inert
/// unless the environment sets it; never set these variables in production:
///
/// - `SLUICE_TEST_STALL_WORKER=N`: the worker to stall;
/// - `SLUICE_TEST_STALL_AFTER_MS=T`: stall T ms after the worker's loop started (default 0);
/// - `SLUICE_TEST_STALL_FOR_MS=D`: resume after D ms (default: stay stalled until the node exits).
///
/// A stalled worker sleeps in its loop without touching its heartbeat, rings or sources.
struct TestStall {
    static let workerVariable = "SLUICE_TEST_STALL_WORKER"
    static let afterVariable = "SLUICE_TEST_STALL_AFTER_MS"
    static let forVariable = "SLUICE_TEST_STALL_FOR_MS"
    static let sleepChunkMicros: UInt32 = 10_000

    /// When the stall begins; `UInt64.max` while none is due (one compare per loop turn).
    var atNanos = UInt64.max
    var afterNanos: UInt64 = 0
    var forNanos = UInt64.max
    var armed = false

    /// An injected stall fires once: a node restarted in place after it (`--on-stall=restart`)
    /// runs without it.
    static func disarmAfterRestart() {
        for name in [workerVariable, afterVariable, forVariable] { unsetenv(name) }
    }

    static func fromEnvironment(worker: Int) -> TestStall {
        var stall = TestStall()
        guard let target = milliseconds(workerVariable), target == UInt64(worker) else { return stall }
        stall.armed = true
        stall.afterNanos = (milliseconds(afterVariable) ?? 0) * 1_000_000
        if let d = milliseconds(forVariable) { stall.forNanos = d * 1_000_000 }
        return stall
    }

    static func milliseconds(_ name: String) -> UInt64? {
        guard let text = getenv(name) else { return nil }
        return UInt64(String(cString: text))
    }

    mutating func start(now: UInt64) {
        if armed { atNanos = now + afterNanos }
    }

    /// Sleeps until the stall's time is over or the node exits; then never again.
    mutating func hold(worker: Int, shared: NodeShared) {
        Log.warn("worker \(worker)", "test hook \(TestStall.workerVariable): stalling this worker on purpose")
        let begin = monotonicNanos()
        while shared.phase != .exiting && monotonicNanos() - begin < forNanos { usleep(TestStall.sleepChunkMicros) }
        atNanos = .max
    }
}
