/// The first stage of an output with buffer=disk, as a sink: the batcher's buffers (records,
/// `BufferRecord`) are written at the end of the segment being written; "connecting" is creating
/// the next segment (and, with buffer-sync=batch, syncing the directory); a batch is safe once
/// written, or once an fdatasync covering it completed (buffer-sync=batch: the buffer holds its
/// events meanwhile, `DiskBuffer+GroupCommit.swift`). The buffer's state lives in
/// `DiskBuffer`, shared with the reader that drains it.
struct DiskSink {
    let buffer: UnsafeMutablePointer<DiskBuffer>
}
