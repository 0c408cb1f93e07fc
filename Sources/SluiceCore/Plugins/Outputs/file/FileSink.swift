import Glibc

/// `file`'s sink: appends with O_APPEND (a batch is one write, so the workers' lines never
/// interleave); the bytes are safe once written, or once fsync'd with sync=true.
struct FileSink {
    let fd: Int32
    let sync: Bool

    func write(from bytes: UnsafeRawPointer, count: Int, context: OutputContext) {
        context.ring.write(fd: fd, from: bytes, count: count, offset: UInt64.max, userData: context.userData(.outputWrite))
    }

    func written(result: Int32) -> SinkWriteResult {
        result < 0 ? .failed(result, reported: false) : .wrote(Int(result))
    }

    func whenWritten(context: OutputContext) -> SinkSafety {
        guard sync else { return .now }
        context.ring.fsync(fd: fd, dataOnly: true, userData: context.userData(.outputSync))
        return .afterSync
    }

    /// Whether the fsync succeeded; a failed one is submitted again.
    func synced(result: Int32, context: OutputContext) -> Bool {
        guard result < 0 else { return true }
        context.count(.outputErrors, 1)
        Log.error(context.logName, "\(SystemError(negated: result, operation: "fsync")); retrying")
        context.ring.fsync(fd: fd, dataOnly: true, userData: context.userData(.outputSync))
        return false
    }

    func close() {
        if fd >= 0 { Glibc.close(fd) }
    }
}
