import Glibc

/// One read buffer of a file source and the read that fills it.
struct ReadSlot {
    enum State { case idle, reading, ready }
    var buffer: UnsafeMutableRawPointer
    var state = State.idle
    var offset: UInt64 = 0
    var length: Int32 = 0
    var consumed = 0
}

/// One file (or standard input) being read by a worker: reads are issued in order into two
/// buffers and framed in the same order, so framing overlaps the next read.
struct FileSource {
    static let readDepth = 2
    let path: String
    var fd: Int32
    let pipeline: Int
    /// Worker that processes this stream.
    let target: Int
    let follow: Bool
    /// Standard input or a pipe: no offsets, one read at a time.
    let isStdin: Bool
    let pollIntervalNanos: UInt64
    let readBytes: Int
    var slots: UnsafeMutablePointer<ReadSlot>
    var nextSlotToRead = 0
    var nextSlotToFrame = 0
    var nextReadOffset: UInt64 = 0
    /// Offset of the next byte to frame.
    var expectedOffset: UInt64 = 0
    var eofSince: UInt64 = 0
    var waitingForData = false
    var finished = false
    var readsInFlight = 0
    var framer: LineFramer

    init(path: String, fd: Int32, pipeline: Int, target: Int, follow: Bool, isStdin: Bool, pollIntervalMicros: Int,
         readBytes: Int, sourceID: UInt32, maxEventBytes: Int) {
        self.path = path
        self.fd = fd
        self.pipeline = pipeline
        self.target = target
        self.follow = follow
        self.isStdin = isStdin
        pollIntervalNanos = UInt64(pollIntervalMicros) * 1000
        self.readBytes = readBytes
        slots = .allocate(capacity: FileSource.readDepth)
        for i in 0..<FileSource.readDepth {
            (slots + i).initialize(to: ReadSlot(buffer: .allocate(byteCount: readBytes, alignment: 4096)))
        }
        framer = LineFramer(sourceID: sourceID, pipelineID: UInt16(pipeline), maxEventBytes: maxEventBytes)
    }
}

extension Worker {
    func fileReadCompleted(file: Int, slot: Int, result: Int32) {
        files[file].slots[slot].length = result
        files[file].slots[slot].consumed = 0
        files[file].slots[slot].state = .ready
        files[file].readsInFlight -= 1
    }

    /// Frames what was read and issues the next reads. Returns whether anything moved.
    func serviceFile(_ f: Int) -> Bool {
        var progressed = false
        let depth = FileSource.readDepth
        while !files[f].finished {
            let s = files[f].nextSlotToFrame
            let slot = files[f].slots + s
            guard slot.pointee.state == .ready else { break }
            progressed = true
            if slot.pointee.length < 0 {
                let error = SystemError(negated: slot.pointee.length, operation: "read \(files[f].path)")
                counters.add(.inputErrors, 1, pipeline: files[f].pipeline)
                Log.error("input file", "\(error); closing this file")
                slot.pointee.state = .idle
                finishFile(f, emitPartial: true)
                break
            }
            if !files[f].isStdin && slot.pointee.offset != files[f].expectedOffset {
                // Issued before an earlier read came back short: its bytes are not next.
                slot.pointee.state = .idle
                files[f].nextSlotToFrame = (s + 1) % depth
                continue
            }
            if slot.pointee.length == 0 {
                slot.pointee.state = .idle
                files[f].nextSlotToFrame = (s + 1) % depth
                if files[f].follow && !stopping {
                    files[f].waitingForData = true
                    files[f].eofSince = now
                    files[f].nextReadOffset = files[f].expectedOffset
                } else {
                    finishFile(f, emitPartial: true)
                }
                break
            }
            let length = Int(slot.pointee.length)
            let chunk = UnsafeRawBufferPointer(start: slot.pointee.buffer + slot.pointee.consumed, count: length - slot.pointee.consumed)
            let chunkOffset = slot.pointee.offset + UInt64(slot.pointee.consumed)
            let r = files[f].framer.frame(chunk, chunkOffset: chunkOffset, nowNanos: now, slab: slab, batch: &inputBatch, counters: counters)
            slot.pointee.consumed += r.consumed
            dispatchInputBatch(to: files[f].target)
            if r.stop == .poolExhausted {
                poolExhausted = true
                return progressed
            }
            if r.stop == .batchFull { continue }
            files[f].expectedOffset = slot.pointee.offset + UInt64(length)
            slot.pointee.state = .idle
            files[f].nextSlotToFrame = (s + 1) % depth
            if length < files[f].readBytes && !files[f].isStdin {
                files[f].nextReadOffset = files[f].expectedOffset
            }
        }
        issueReads(f)
        return progressed
    }

    func issueReads(_ f: Int) {
        guard !files[f].finished, !stopping else { return }
        if files[f].waitingForData {
            guard now >= files[f].eofSince + files[f].pollIntervalNanos else { return }
            files[f].waitingForData = false
        }
        let depth = files[f].isStdin ? 1 : FileSource.readDepth
        while files[f].readsInFlight < depth {
            let s = files[f].nextSlotToRead
            let slot = files[f].slots + s
            guard slot.pointee.state == .idle else { return }
            slot.pointee.state = .reading
            slot.pointee.offset = files[f].nextReadOffset
            ring.read(fd: files[f].fd, into: slot.pointee.buffer, count: files[f].readBytes,
                      offset: files[f].isStdin ? UInt64.max : files[f].nextReadOffset, userData: userData(.fileRead, f, s))
            files[f].nextReadOffset += UInt64(files[f].readBytes)
            files[f].readsInFlight += 1
            files[f].nextSlotToRead = (s + 1) % FileSource.readDepth
        }
    }

    /// Ends a source: the last record without a newline goes out flagged partial.
    func finishFile(_ f: Int, emitPartial: Bool) {
        if emitPartial {
            while !files[f].framer.finish(offset: files[f].expectedOffset, nowNanos: now, batch: &inputBatch, counters: counters) {
                dispatchInputBatch(to: files[f].target)
            }
            dispatchInputBatch(to: files[f].target)
        } else {
            files[f].framer.abandon(slab: slab)
        }
        files[f].finished = true
    }
}
