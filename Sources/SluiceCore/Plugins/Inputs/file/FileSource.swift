import CSupport
import Glibc

/// One read buffer of a file source and the read that fills it.
struct ReadSlot {
    enum State { case idle, reading, ready }
    var buffer: UnsafeMutableRawPointer
    var state = State.idle
    var offset: UInt64 = 0
    var length: Int32 = 0
    var requested = 0
    var consumed = 0
}

/// The byte ranges of one file read with `parallel=true`: cut just after newlines when the node
/// starts, each worker begins with one of the first ranges and, when it is done with it, claims
/// the next unclaimed one. Whichever worker is ahead reads more, so a worker that shares its
/// CPU with something else does not leave the other idle at the end (one range per worker did:
/// up to 190 ms of a 500 ms run on two vCPUs).
final class ParallelRanges: @unchecked Sendable {
    /// `bounds[i] ..< bounds[i + 1]` is range i; there are `count` ranges.
    let bounds: UnsafeMutablePointer<UInt64>
    let count: Int
    /// The next range to claim (atomic, shared by the workers reading the file).
    private let cursor: UnsafeMutablePointer<UInt64>

    init(bounds list: [UInt64], firstUnclaimed: Int) {
        count = list.count - 1
        bounds = .allocate(capacity: list.count)
        bounds.initialize(from: list, count: list.count)
        cursor = .allocate(capacity: 1)
        cursor.initialize(to: UInt64(firstUnclaimed))
    }

    deinit {
        bounds.deallocate()
        cursor.deallocate()
    }

    /// The next range with bytes in it that no worker has taken, or nil when all are taken.
    func claim() -> (start: UInt64, end: UInt64)? {
        while true {
            let i = Int(sl_fetch_add(cursor, 1))
            guard i < count else { return nil }
            if bounds[i] < bounds[i + 1] { return (bounds[i], bounds[i + 1]) }
        }
    }
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
    /// At its end, waiting for a free event for what its decoder still assembles
    /// (`FileFamily.finishFile`): no more reads.
    var finishing = false
    /// inotify watch descriptor of a followed file, or -1 (`FileNotify`).
    var watch: Int32 = -1
    var readsInFlight = 0
    var framer: LineFramer
    /// How its records are decoded; the decoder itself is made by the worker that reads it
    /// (`FileFamily.attachDecoder`), with that worker's scratch.
    var decoding = RecordDecoder.Kind.none
    /// A followed file deleted (no name left) is closed once read to its end, its events
    /// acknowledged and nothing appended for this long (`deleted-grace`).
    var deletedGraceNanos: UInt64 = 0
    /// When it was first seen deleted at its end, and the offset it ended at then (0: not seen
    /// deleted); bytes appended since start the grace again.
    var deletedSince: UInt64 = 0
    var deletedAtOffset: UInt64 = 0
    /// Deleted and closed: its offsets entry is dropped once its events all came back.
    var deleted = false
    /// Where its path goes when it is deleted and closed, for the rescan (followed inputs).
    var deletedPaths: DeletedPaths? = nil
    /// A record its decoder assembles whose rest has not come for this long, while the file is
    /// read to its end, is handed on alone (`k8s` `partial-timeout`); 0: never.
    var partialTimeoutNanos: UInt64 = 0
    /// Its events that came back acknowledged (of every generation): once the source is finished
    /// and this equals `framer.handed`, nothing of it is in flight and its entry can be reused.
    var acknowledgedCount: UInt64 = 0
    /// Index in the owner's table and generation (bumped on rotation/truncation): both are in
    /// the events' source id, so acks of a previous file are told apart.
    private(set) var index: Int
    let owner: Int
    var generation = 0
    var inode: UInt64 = 0
    var device: UInt64 = 0
    /// Where the committed offset is published (offset, inode, device), when offsets are kept.
    let commitWords: UnsafeMutablePointer<UInt64>?
    /// Rotation seen: the old file gets one more read to its end before the switch.
    var rotationSeen = false
    /// Followed files: newer files that appeared under `path` while this one was still read,
    /// oldest first, opened at once so another rotation cannot take them away; each is read to
    /// its end in turn. At most `maxRotated`.
    var successors: [Successor] = []
    var maxRotated = 0
    /// When `path` is looked at next while the file is read (the backstop of the directory watch).
    var nextPathCheckNanos: UInt64 = 0
    /// Successors not opened because `maxRotated` were waiting (logged once per file).
    var successorsRefused = false
    /// A byte range of a file split across workers (`parallel=true`) ends here.
    var endOffset = UInt64.max
    /// With `parallel=true`: where the next range comes from when this one is done.
    var ranges: ParallelRanges?
    /// The last bytes before `expectedOffset`, read when the end was reached: if they differ at
    /// the next poll, the file was truncated and written again past the old position.
    let tail: UnsafeMutableRawPointer = .allocate(byteCount: FileSource.tailBytes, alignment: 8)
    var tailLength = 0
    static let tailBytes = 64

    init(path: String, fd: Int32, pipeline: Int, target: Int, follow: Bool, isStdin: Bool, pollIntervalMicros: Int,
         readBytes: Int, owner: Int, index: Int, maxEventBytes: Int, startOffset: UInt64 = 0,
         inode: UInt64 = 0, device: UInt64 = 0, commitWords: UnsafeMutablePointer<UInt64>? = nil, inputRow: Int32 = 0, maxRotated: Int = 0) {
        self.index = index
        self.owner = owner
        self.inode = inode
        self.device = device
        self.commitWords = commitWords
        nextReadOffset = startOffset
        expectedOffset = startOffset
        let sourceID = SourceIDs.make(worker: owner, kind: .file, generation: 0, index: index)
        self.path = path
        self.fd = fd
        self.pipeline = pipeline
        self.target = target
        self.follow = follow
        self.isStdin = isStdin
        self.maxRotated = follow && !isStdin ? maxRotated : 0
        pollIntervalNanos = UInt64(pollIntervalMicros) * 1000
        self.readBytes = readBytes
        slots = .allocate(capacity: FileSource.readDepth)
        for i in 0..<FileSource.readDepth {
            (slots + i).initialize(to: ReadSlot(buffer: .allocate(byteCount: readBytes, alignment: 4096)))
        }
        framer = LineFramer(sourceID: sourceID, pipelineID: UInt16(pipeline), maxEventBytes: maxEventBytes)
        framer.inputRow = inputRow
    }

    /// Takes how `input` reads its files beyond where and how often: the decoding of its lines,
    /// when a deleted file is closed.
    mutating func adopt(_ input: FileInput, deletedPaths: DeletedPaths?) {
        decoding = input.decoding
        deletedGraceNanos = UInt64(input.deletedGraceMicros) * 1000
        self.deletedPaths = deletedPaths
        partialTimeoutNanos = UInt64(input.partialTimeoutMicros) * 1000
    }

    /// Puts a source at its index in the worker's table (a reload's, or one found by a rescan),
    /// with `generation` (a reused entry's next: no id of the previous file's events repeats).
    mutating func place(at index: Int, generation: Int) {
        self.index = index
        self.generation = generation
        framer.sourceID = SourceIDs.make(worker: owner, kind: .file, generation: generation, index: index)
    }

    /// Finished, closed, and every event it handed on came back: its entry may be reused.
    var drained: Bool { finished && fd < 0 && readsInFlight == 0 && framer.handed == acknowledgedCount }

    /// Frees the read buffers of a finished source with no read in flight.
    mutating func releaseBuffers() {
        for i in 0..<FileSource.readDepth { slots[i].buffer.deallocate() }
        slots.deinitialize(count: FileSource.readDepth)
        slots.deallocate()
        slots = .allocate(capacity: 0)
        tail.deallocate()
        framer.decoder.dispose()
        framer.decoder = .none
    }
}

/// A newer file under a followed path, open and waiting its turn.
struct Successor {
    let fd: Int32
    let inode: UInt64
    let device: UInt64
}

/// Reading one file: framing what was read, issuing the next reads, rotation and truncation at
/// the end of a followed file, the end of a source.
extension FileFamily {
    func readCompleted(file: Int, slot: Int, result: Int32) {
        files[file].slots[slot].length = result
        files[file].slots[slot].consumed = 0
        files[file].slots[slot].state = .ready
        files[file].readsInFlight -= 1
    }

    /// Frames what was read and issues the next reads. Returns whether anything moved.
    func serviceFile(_ f: Int, _ context: InputContext) -> Bool {
        if files[f].finishing {
            guard finishFile(f, emitPartial: true, context) else { return false }
            if files[f].deleted { releaseFinished(f) }
            return true
        }
        var progressed = false
        let depth = FileSource.readDepth
        while !files[f].finished {
            let s = files[f].nextSlotToFrame
            let slot = files[f].slots + s
            guard slot.pointee.state == .ready else { break }
            let progressedBefore = progressed
            progressed = true
            if slot.pointee.length < 0 {
                let error = SystemError(negated: slot.pointee.length, operation: "read \(files[f].path)")
                context.counters.add(.inputErrors, 1, pipeline: files[f].pipeline)
                Log.error("input file", "\(error); closing this file")
                slot.pointee.state = .idle
                finishFile(f, emitPartial: true, context)
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
                if files[f].follow && !context.stopping {
                    files[f].waitingForData = true
                    files[f].eofSince = context.now
                    files[f].nextReadOffset = files[f].expectedOffset
                    rememberTail(f)
                } else {
                    finishFile(f, emitPartial: true, context)
                }
                break
            }
            let length = Int(slot.pointee.length)
            let chunk = UnsafeRawBufferPointer(start: slot.pointee.buffer + slot.pointee.consumed, count: length - slot.pointee.consumed)
            let chunkOffset = slot.pointee.offset + UInt64(slot.pointee.consumed)
            let r = context.frame(&files[f].framer, chunk, at: chunkOffset)
            slot.pointee.consumed += r.consumed
            context.dispatch(to: files[f].target)
            if r.stop == .poolExhausted {
                context.waitForFreeEvents()
                // Waiting for a free event is not progress: the worker may sleep until one
                // comes back (a completion or another worker's return wakes it).
                return progressedBefore || r.consumed > 0
            }
            if r.stop == .batchFull { continue }
            files[f].expectedOffset = slot.pointee.offset + UInt64(length)
            slot.pointee.state = .idle
            files[f].nextSlotToFrame = (s + 1) % depth
            if length < slot.pointee.requested && !files[f].isStdin {
                files[f].nextReadOffset = files[f].expectedOffset
            }
            if files[f].expectedOffset >= files[f].endOffset {
                // The range is done: on to the next unclaimed one of the file, if any.
                if !context.stopping, let next = files[f].ranges?.claim() {
                    deliverPartial(f, context)  // ranges are cut after newlines: nothing is pending
                    files[f].expectedOffset = next.start
                    files[f].nextReadOffset = next.start
                    files[f].endOffset = next.end
                    continue
                }
                finishFile(f, emitPartial: true, context)
                break
            }
        }
        issueReads(f, context)
        return progressed
    }

    func issueReads(_ f: Int, _ context: InputContext) {
        guard !files[f].finished, !files[f].finishing, !context.stopping else { return }
        if files[f].waitingForData {
            guard context.now >= files[f].eofSince + files[f].pollIntervalNanos else { return }
            files[f].waitingForData = false
            if !files[f].isStdin { checkRotation(f, context) }
            guard !files[f].finished, !files[f].finishing else { return }  // deleted and closed
        }
        let depth = files[f].isStdin ? 1 : FileSource.readDepth
        while files[f].readsInFlight < depth {
            let s = files[f].nextSlotToRead
            let slot = files[f].slots + s
            guard slot.pointee.state == .idle, files[f].nextReadOffset < files[f].endOffset else { return }
            let count = Int(min(UInt64(files[f].readBytes), files[f].endOffset - files[f].nextReadOffset))
            slot.pointee.state = .reading
            slot.pointee.offset = files[f].nextReadOffset
            slot.pointee.requested = count
            context.ring.read(fd: files[f].fd, into: slot.pointee.buffer, count: count,
                      offset: files[f].isStdin ? UInt64.max : files[f].nextReadOffset, userData: FileFamily.userData(.read, f, s))
            files[f].nextReadOffset += UInt64(count)
            files[f].readsInFlight += 1
            files[f].nextSlotToRead = (s + 1) % FileSource.readDepth
        }
    }

    /// At the end of a followed file: was it truncated (size below what was read) or replaced
    /// by a new file under the same path (rotation)? Rotation gives the old file one more read
    /// to its end, then switches to the new file from its start.
    func checkRotation(_ f: Int, _ context: InputContext) {
        var opened = stat()
        guard fstat(files[f].fd, &opened) == 0 else { return }
        let shrank = UInt64(opened.st_size) < files[f].expectedOffset
        if shrank || tailChanged(f) {
            let how = shrank ? "shrank from \(files[f].expectedOffset) to \(opened.st_size) bytes (truncated)"
                : "was rewritten before \(files[f].expectedOffset) (truncated and refilled)"
            Log.warn("input file", "\(files[f].path) \(how): reading it again from the start")
            context.abandon(&files[f].framer)
            restartFile(f, fd: files[f].fd, inode: files[f].inode, device: files[f].device)
            return
        }
        lookAtPath(f, context)
        if opened.st_nlink == 0 && files[f].successors.isEmpty {
            if deletedFileIsDone(f, context) { closeDeleted(f, context) }
            return
        }
        files[f].deletedSince = 0
        if files[f].maxRotated == 0 && files[f].successors.isEmpty {
            // Without a queue, the file the path names now is the next one.
            var named = stat()
            guard stat(files[f].path, &named) == 0 else { return }  // renamed away, not recreated yet
            guard UInt64(named.st_ino) != files[f].inode || UInt64(named.st_dev) != files[f].device else { return }
            let fd = open(files[f].path, O_RDONLY | O_CLOEXEC)
            guard fd >= 0 else { return }
            var opened = stat()
            fstat(fd, &opened)
            files[f].successors.append(Successor(fd: fd, inode: UInt64(opened.st_ino), device: UInt64(opened.st_dev)))
        }
        guard let next = files[f].successors.first else { return }
        if !files[f].rotationSeen {
            files[f].rotationSeen = true  // one more read of the old file first
            return
        }
        files[f].successors.removeFirst()
        let waiting = files[f].successors.count
        Log.info("input file", "\(files[f].path) was rotated: old file read to its end, now reading the next one"
                 + (waiting > 0 ? " (\(waiting) newer waiting)" : ""))
        deliverPartial(f, context)
        Glibc.close(files[f].fd)
        restartFile(f, fd: next.fd, inode: next.inode, device: next.device)
        watchFile(f, context)  // the inode the path names now
    }

    /// A followed file with no name left, at its end: may it be closed? Only once every event it
    /// handed on came back and nothing was appended for `deleted-grace` (a writer that still
    /// holds it open may add more until it reopens its log).
    func deletedFileIsDone(_ f: Int, _ context: InputContext) -> Bool {
        if files[f].deletedSince == 0 || files[f].deletedAtOffset != files[f].expectedOffset {
            files[f].deletedSince = context.now
            files[f].deletedAtOffset = files[f].expectedOffset
        }
        return context.now - files[f].deletedSince >= files[f].deletedGraceNanos && files[f].framer.handed == files[f].acknowledgedCount
    }

    /// A followed file deleted and read to its end (its container removed, a log rotated away
    /// and deleted): its records are handed on, then it is closed, which frees its disk space,
    /// and its buffers freed.
    func closeDeleted(_ f: Int, _ context: InputContext) {
        Log.info("input file", "\(files[f].path) was deleted: read to its end, closed")
        files[f].deleted = true
        // A file under the same name later is another one: the rescan takes it (and the set of
        // names seen does not grow with every container that came and went).
        files[f].deletedPaths?.add(files[f].path)
        guard finishFile(f, emitPartial: true, context) else { return }  // `finishing`: ends at a later turn
        releaseFinished(f)
    }

    /// A finished file with no read in flight: its descriptor closed, its buffers freed, its
    /// entry reused once its events all came back (`takeSlot`).
    func releaseFinished(_ f: Int) {
        guard files[f].finished, files[f].readsInFlight == 0, files[f].fd >= 0, !files[f].isStdin else { return }
        Glibc.close(files[f].fd)
        files[f].fd = -1
        files[f].releaseBuffers()
        retiredFiles.append(f)
    }

    /// A followed file still being read: has a newer file appeared under its path? If so it is
    /// opened now and queued (`successors`), so it is read even if it is rotated away before the
    /// reader gets to it. Called on inotify events of the path's directory, every
    /// `poll-interval` while reading (`maintain`) and at the end of the file.
    func lookAtPath(_ f: Int, _ context: InputContext) {
        guard files[f].maxRotated > 0, !files[f].finished else { return }
        files[f].nextPathCheckNanos = context.now + files[f].pollIntervalNanos
        var named = stat()
        guard stat(files[f].path, &named) == 0 else { return }  // renamed away, not recreated yet
        let inode = UInt64(named.st_ino), device = UInt64(named.st_dev)
        if inode == files[f].inode && device == files[f].device { return }
        if files[f].successors.contains(where: { $0.inode == inode && $0.device == device }) { return }
        guard files[f].successors.count < files[f].maxRotated else {
            if !files[f].successorsRefused {
                files[f].successorsRefused = true
                context.counters.add(.inputErrors, 1, pipeline: files[f].pipeline)
                Log.warn("input file", "\(files[f].path): \(files[f].maxRotated) rotated files already wait to be read (max-rotated); newer ones are opened only as older ones finish")
            }
            return
        }
        let fd = open(files[f].path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return }
        var opened = stat()
        guard fstat(fd, &opened) == 0, UInt64(opened.st_ino) == inode, UInt64(opened.st_dev) == device else {
            Glibc.close(fd)  // replaced again between stat and open: the next look takes it
            return
        }
        files[f].successors.append(Successor(fd: fd, inode: inode, device: device))
        files[f].successorsRefused = false
        watchDirectory(f, context)
    }

    /// Reads the bytes just before the read position (one small read per end-of-file wait).
    func rememberTail(_ f: Int) {
        let n = Int(min(UInt64(FileSource.tailBytes), files[f].expectedOffset))
        files[f].tailLength = n > 0 && pread(files[f].fd, files[f].tail, n, off_t(files[f].expectedOffset) - off_t(n)) == n ? n : 0
    }

    func tailChanged(_ f: Int) -> Bool {
        let n = files[f].tailLength
        guard n > 0 else { return false }
        var now = (UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0))
        return withUnsafeMutableBytes(of: &now) { buffer in
            let read = pread(files[f].fd, buffer.baseAddress, n, off_t(files[f].expectedOffset) - off_t(n))
            return read != n || memcmp(buffer.baseAddress!, files[f].tail, n) != 0
        }
    }

    func restartFile(_ f: Int, fd: Int32, inode: UInt64, device: UInt64) {
        files[f].fd = fd
        files[f].inode = inode
        files[f].device = device
        files[f].rotationSeen = false
        files[f].tailLength = 0
        files[f].expectedOffset = 0
        files[f].nextReadOffset = 0
        files[f].generation += 1
        files[f].framer.sourceID = SourceIDs.make(worker: worker, kind: .file, generation: files[f].generation, index: f)
        files[f].framer.decoder.restarted()
        if let words = files[f].commitWords {
            sl_store_relaxed(words + 1, inode)
            sl_store_relaxed(words + 2, device)
            sl_store_relaxed(words, 0)
        }
    }

    /// An acknowledged event of one of this worker's sources: a file's stream is committed up to
    /// the event's offset (acks of a stream arrive in order).
    @inline(__always) func acknowledged(sourceID id: UInt32, offset: UInt64) {
        let f = SourceIDs.index(id)
        guard f < files.count else { return }
        files[f].acknowledgedCount &+= 1
        guard let words = files[f].commitWords, files[f].generation & 0xFF == SourceIDs.generation(id) else { return }
        sl_store_relaxed(words, offset)
    }

    /// Hands on the record the file ends with, without its newline (a rotated file read to its
    /// end: what the decoder assembles goes on with the next file).
    func deliverPartial(_ f: Int, _ context: InputContext) {
        context.deliverPartial(&files[f].framer, offset: files[f].expectedOffset, to: files[f].target)
    }

    /// Ends a source: the last record without a newline goes out flagged partial, and so do the
    /// records its decoder still assembles. False when one of those found no free event: the
    /// source waits (`finishing`, no more reads) and ends at a later turn.
    @discardableResult
    func finishFile(_ f: Int, emitPartial: Bool, _ context: InputContext) -> Bool {
        if emitPartial {
            guard context.deliverPartial(&files[f].framer, offset: files[f].expectedOffset, to: files[f].target, endOfSource: true) else {
                files[f].finishing = true
                context.waitForFreeEvents()
                return false
            }
        } else {
            context.abandon(&files[f].framer)
        }
        files[f].finishing = false
        files[f].finished = true
        if let i = activeFiles.firstIndex(of: f) { activeFiles.remove(at: i) }
        unwatchFile(f)
        for s in files[f].successors { Glibc.close(s.fd) }
        files[f].successors.removeAll()
        return true
    }
}
