import Glibc

/// `stdout`'s sink: writes to standard output; the bytes are safe once written. A reader that
/// closed the pipe (EPIPE) never comes back, so the node stops.
struct StdoutSink {
    let fd: Int32
    var closedLogged = false

    func write(from bytes: UnsafeRawPointer, count: Int, context: OutputContext) {
        context.ring.write(fd: fd, from: bytes, count: count, offset: UInt64.max, userData: context.userData(.outputWrite))
    }

    mutating func written(result: Int32, context: OutputContext) -> SinkWriteResult {
        guard result >= 0 else {
            guard result == -EPIPE else { return .failed(result, reported: false) }
            // The control thread drains the other pipelines and exits 1; the batch stays
            // unacknowledged (retried with backoff meanwhile, like any failed write).
            if !closedLogged {
                Log.error(context.logName, "stdout: the reader closed the pipe (EPIPE); nothing more can be written there, so the node stops (what was not written stays unacknowledged)")
                closedLogged = true
            }
            context.stopNode()
            return .failed(result, reported: true)
        }
        return .wrote(Int(result))
    }
}
