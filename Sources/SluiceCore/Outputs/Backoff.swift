/// An exponential backoff schedule: `initialNanos` first, then doubled up to a limit. Failed
/// writes, failed dead-letter writes and tcp reconnects each keep one.
struct Backoff {
    static let initialNanos: UInt64 = 10_000_000
    static let maxNanos: UInt64 = 5_000_000_000

    /// The last wait (0: the last attempt succeeded).
    private(set) var delayNanos: UInt64 = 0
    /// When the next attempt is due (0: none waits).
    var atNanos: UInt64 = 0

    /// The next wait after `delay`: `initialNanos` first, then doubled up to `limit`.
    @inline(__always) static func next(after delay: UInt64, limit: UInt64 = maxNanos) -> UInt64 {
        delay == 0 ? initialNanos : min(delay * 2, limit)
    }

    var isWaiting: Bool { atNanos != 0 }

    /// An attempt failed at `now`: the next one waits longer.
    mutating func failed(now: UInt64, limit: UInt64 = maxNanos) {
        delayNanos = Backoff.next(after: delayNanos, limit: limit)
        atNanos = now + delayNanos
    }

    /// Like `failed`, with ±25% jitter so a fleet does not retry in lockstep.
    mutating func failedWithJitter(now: UInt64, limit: UInt64) {
        delayNanos = Backoff.next(after: delayNanos, limit: limit)
        atNanos = now + delayNanos - delayNanos / 4 + UInt64.random(in: 0...(delayNanos / 2))
    }

    mutating func succeeded() { delayNanos = 0 }

    /// Whether the waiting attempt is due at `now`; if so it no longer waits.
    mutating func takeDue(now: UInt64) -> Bool {
        guard atNanos != 0, now >= atNanos else { return false }
        atNanos = 0
        return true
    }
}
