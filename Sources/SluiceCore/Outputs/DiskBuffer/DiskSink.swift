/// The first stage of an output with buffer=disk, as a sink: the batcher's buffers (records,
/// `BufferRecord`) are written at the end of the segment being written; "connecting" is creating
/// the next segment (and, with buffer-sync=batch, syncing the directory); a batch is safe once
/// written, or once its fdatasync completed (buffer-sync=batch). The buffer's state lives in
/// `DiskBuffer`, shared with the reader that drains it.
struct DiskSink {
    let buffer: UnsafeMutablePointer<DiskBuffer>

    /// Whether the batch's fdatasync made it safe (false: it was submitted again).
    func synced(result: Int32, context: OutputContext) -> Bool {
        guard result < 0 else {
            buffer.pointee.writerBusy = false
            return true
        }
        context.count(.outputErrors, 1)
        Log.error(context.logName, "disk buffer: \(SystemError(negated: result, operation: "fdatasync \(buffer.pointee.path)")); retrying")
        context.ring.fsync(fd: buffer.pointee.writeFD, dataOnly: true, userData: context.userData(.outputSync))
        return false
    }
}
