/// When a sink that connects out connects next, and what the log says about it: after a
/// failure the next try waits with exponential backoff and ±25% jitter up to the output's
/// limit; the outage is logged once (its first failure) and the return once. Shared by
/// `OutboundConnection` (sockets the ring connects) and `PostgresSink` (libpq's own connect).
struct Reconnection {
    let maxNanos: UInt64
    /// When to connect next (0 at start: at once).
    private(set) var backoff = Backoff()
    private(set) var outageLogged = false

    init(maxNanos: UInt64) { self.maxNanos = maxNanos }

    /// When the next connect is due.
    var atNanos: UInt64 { backoff.atNanos }

    @inline(__always) func isDue(now: UInt64) -> Bool { now >= backoff.atNanos }

    /// No connection now: the next try after the backoff; `message` logged on the outage's
    /// first failure only.
    mutating func failed(context: OutputContext, _ message: @autoclosure () -> String) {
        backoff.failedWithJitter(now: context.now, limit: maxNanos)
        if !outageLogged {
            Log.error(context.logName, message() + "; reconnecting with backoff, events held")
            outageLogged = true
        }
    }

    /// Connected: the backoff starts over, and the end of an outage is logged (`destination`).
    mutating func succeeded(context: OutputContext, destination: @autoclosure () -> String) {
        backoff.succeeded()
        if outageLogged {
            Log.info(context.logName, "connected again to " + destination())
            outageLogged = false
        }
    }

    /// A connection that did its work was closed by the peer: the next one at once.
    mutating func now(_ nanos: UInt64) { backoff.atNanos = nanos }
}
