import CSupport
import Glibc

/// The file operations of a disk buffer whose completions come back to it (kind
/// `CompletionKind.bufferFile`, the operation in bits 8... of the user data's low word).
/// Writes and the opening of the segment being written go through the stage-1 batcher's sink
/// path instead (`outputWrite`, `outputConnect`).
enum DiskBufferOperation: Int {
    case intervalSync = 1, retireSync, readOpen, read, unlink
    case positionOpen, positionWrite, positionSync, positionRename, positionDirectorySync
    case heldSync
}

/// One worker's disk buffer for one output: append-only segment files written through the
/// worker's ring, a reader that drains them in order into events of the worker's pool, handed to
/// the output's drain batcher (the real sink), and the bookkeeping between: which segments can
/// go, the read position saved atomically, the size limit and the stats.
///
/// Stage 1 is the output's ordinary `OutputBatcher` with a `.disk` sink: it encodes each event
/// as a record (`BufferRecord`) and acknowledges a batch to the inputs once its write completed
/// (with `buffer-sync=batch`, once an fdatasync covering it completed: the batch's events wait
/// in `held` while the next batches are written, `DiskBuffer+GroupCommit.swift`). Stage 2 (`drain`) is a second `OutputBatcher`
/// with the output's own sink; it acknowledges to this buffer (`delivered`), never to the inputs.
struct DiskBuffer {
    /// A segment file: its name is `number`, the first sequence number it may hold; `ordinal`
    /// counts segments in this run (drained events carry it in `EventHeader.sourceID`).
    struct Segment {
        var ordinal: UInt32
        var number: UInt64
        /// Bytes of whole records in it (what the reader may read).
        var bytes: UInt64
    }

    let options: BufferOptions
    /// The output it buffers (completions of its file operations come back by these).
    let pipeline: Int
    let output: Int
    let path: String
    let directoryFD: Int32
    let maxPayloadBytes: Int
    let stats: BufferStats
    let segmentBytes: UInt64
    let positionIntervalNanos: UInt64
    /// Oldest first; the last one takes writes while `writeFD >= 0`.
    var segments: [Segment] = []
    var nextOrdinal: UInt32 = 0
    /// Bytes of every segment on disk (delivered ones until their unlink completes).
    var totalBytes: UInt64 = 0

    // MARK: Writing (the `.disk` sink of the stage-1 batcher)

    var writeFD: Int32 = -1
    /// The segment being created: its open (then, with buffer-sync=batch, the directory's
    /// fsync) is in flight.
    var creating = CreationStep.none
    enum CreationStep { case none, opening, syncingDirectory }
    var createRetry = Backoff()
    /// A stage-1 batch waits for a segment to be written into (segments are created on demand,
    /// so a stopped buffer creates none).
    var segmentWanted = false
    var createErrorLogged = false
    /// Where the write in flight goes, past the records already in the segment.
    var writeCursor: UInt64 = 0
    /// A stage-1 batch is being written (or synced, or waits to be written again): the segment
    /// being written cannot be closed under it.
    var writerBusy = false
    /// The stage-1 batcher waits for room (buffer-full=block).
    var blockedByRoom = false
    /// The number the next encoded record gets.
    var nextSequence: UInt64
    /// The first number not yet on disk or dropped: a new segment's name.
    var unwrittenSequence: UInt64
    /// Per stage-1 buffer: `nextSequence` when it went out (its records are below it).
    var batchEndSequences: (UInt64, UInt64) = (0, 0)
    /// A write failed for lack of space: no room until a segment is deleted, a write succeeds,
    /// or `fullRetryNanos` passed (then one batch tries again).
    var diskFull = false
    var diskFullNanos: UInt64 = 0
    static let fullRetryNanos: UInt64 = 1_000_000_000
    /// A segment was deleted since the stage-1 batcher last looked: a blocked write may go.
    var roomFreed = false
    var fullLogged = false
    var fullLoggedNanos: UInt64 = 0
    /// A buffer that keeps filling up and draining logs "full" at most this often.
    static let fullLogIntervalNanos: UInt64 = 10_000_000_000
    /// buffer-sync=interval: records written since the last fdatasync, and when that was.
    var unsynced = false
    var lastSyncNanos: UInt64 = 0
    var intervalSyncInFlight = false
    /// A segment closed for writes whose last fdatasync is in flight (closed after it).
    var retiringFD: Int32 = -1

    // MARK: Group commit (buffer-sync=batch)

    /// Events of batches written to the segment, waiting for an fdatasync that covers them
    /// (a ring, indexed by the running counts below modulo its capacity). Up to
    /// `buffer-sync-group` of them have given their slots back (detached); the others hold
    /// theirs, so every live event of the node plus that many at most: it never overflows.
    let held: UnsafeMutablePointer<HeldEvent>
    let heldCapacity: Int
    /// Detached events in `held`, and how many may be.
    var heldDetached = 0
    let heldDetachedLimit: Int
    /// Events put into `held` and acknowledged from it, since the start.
    var heldIn: UInt64 = 0
    var heldOut: UInt64 = 0
    /// The fdatasync in flight: on which descriptor, and `heldIn` when it was submitted (the
    /// events it makes safe).
    var heldSyncFD: Int32 = -1
    var heldSyncCovers: UInt64 = 0
    var heldSyncInFlight = false
    /// `heldIn` when the segment now in `retiringFD` was closed for writes: the events before
    /// are safe once that descriptor is synced.
    var retiringCovers: UInt64 = 0
    /// Wall clock minus monotonic clock, refreshed every turn: records carry wall-clock times.
    var wallOffsetNanos: UInt64 = 0

    // MARK: Reading (stage 2's source)

    /// The segment being read, an index into `segments` (== count: none yet); its ordinal and
    /// first number, kept apart so the per-record path does not index the array.
    var readIndex = 0
    var readOrdinal: UInt32 = 0
    var readNumber: UInt64 = 0
    var readFD: Int32 = -1
    var readOpening = false
    /// Where reading of the first segment starts (the saved position), then 0.
    var readStartOffset: UInt64
    /// The file offset of `readBuffer[readEnd]`.
    var readOffset: UInt64 = 0
    let readBuffer: UnsafeMutableRawPointer
    let readCapacity: Int
    var readStart = 0
    var readEnd = 0
    var readInFlight = false
    var readRetry = Backoff()
    var readErrorLogged = false
    var lastReadSequence: UInt64?
    /// Inside a stretch of bytes that are not records (counted once when it starts, where).
    var skippingCorrupt = false
    var corruptFromOffset: UInt64 = 0
    /// Events read into the pool and handed to the drain, not delivered yet.
    var inFlight = 0
    /// The last delivered event's segment (ordinal) and end offset.
    var delivered: (ordinal: UInt32, end: UInt64)?
    /// What this worker does with the buffer: run, or stop (at node stop or a reload of its
    /// pipeline): `halting` leaves the undelivered records for the next start, `emptying` (the
    /// inputs finished by themselves) delivers them all first.
    var mode = Mode.running
    enum Mode { case running, halting, emptying }

    // MARK: Deleting segments, saving the position

    var unlinking = false
    var positionDirty = false
    var positionStep: DiskBufferOperation?
    var positionFD: Int32 = -1
    var positionSavedNanos: UInt64 = 0
    var positionErrorLogged = false
    let positionText: UnsafeMutableRawPointer
    var positionTextBytes = 0
    /// C strings for the ring's file operations (each kind has at most one in flight).
    let createName: UnsafeMutablePointer<CChar>
    let readName: UnsafeMutablePointer<CChar>
    let unlinkName: UnsafeMutablePointer<CChar>
    let temporaryName: UnsafeMutablePointer<CChar>
    let positionName: UnsafeMutablePointer<CChar>

    /// Stage 2: the output's real sink, fed from the segments.
    let drain: UnsafeMutablePointer<OutputBatcher>

    static let nameBytes = 32
    static let positionTextCapacity = 128
    /// Events the drain may take from the slots framers leave free (`Slab.slotsKeptForActions`)
    /// while the pool is otherwise exhausted: with `buffer-full=block`, inputs fill the pool
    /// while the buffer is full, and the drain must still empty it to make room.
    static let reserveEvents = 8

    /// `liveEvents`: how many events the node's pool holds (ordinary, medium and large slots), the
    /// most that can wait for an fdatasync.
    init(pipeline: Int, output: Int, options: BufferOptions, recovery: BufferRecovery, maxPayloadBytes: Int, stats: BufferStats,
         liveEvents: Int, drain: UnsafeMutablePointer<OutputBatcher>) {
        self.pipeline = pipeline
        self.output = output
        self.options = options
        path = recovery.path
        directoryFD = recovery.directoryFD
        self.maxPayloadBytes = maxPayloadBytes
        self.stats = stats
        self.drain = drain
        segmentBytes = UInt64(options.segmentBytes)
        positionIntervalNanos = UInt64(options.positionIntervalMicros) * 1000
        nextSequence = recovery.nextSequence
        unwrittenSequence = recovery.nextSequence
        readStartOffset = recovery.readOffset
        for s in recovery.segments {
            segments.append(Segment(ordinal: nextOrdinal, number: s.number, bytes: s.bytes))
            nextOrdinal &+= 1
            totalBytes += s.bytes
        }
        // Room for the largest record twice, so one always fits after the unread part.
        readCapacity = max(1 << 20, 2 * (BufferRecord.headerBytes + maxPayloadBytes))
        readBuffer = .allocate(byteCount: readCapacity, alignment: 4096)
        positionText = .allocate(byteCount: Self.positionTextCapacity, alignment: 8)
        heldDetachedLimit = options.sync == .batch ? options.syncGroupEvents : 0
        heldCapacity = options.sync == .batch ? liveEvents + heldDetachedLimit : 1
        held = .allocate(capacity: heldCapacity)
        func name(_ text: String?) -> UnsafeMutablePointer<CChar> {
            let p = UnsafeMutablePointer<CChar>.allocate(capacity: Self.nameBytes)
            p.initialize(repeating: 0, count: Self.nameBytes)
            if let text { for (i, c) in text.utf8.enumerated() where i < Self.nameBytes - 1 { p[i] = CChar(bitPattern: c) } }
            return p
        }
        createName = name(nil)
        readName = name(nil)
        unlinkName = name(nil)
        temporaryName = name(BufferPosition.temporaryName)
        positionName = name(BufferPosition.fileName)
        stats.add(.tornTails, recovery.tornTails)
        stats.add(.corrupt, recovery.corruptRegions)
        publishSize()
    }

    /// Frees everything (the descriptors are closed by `close`).
    func deallocate() {
        readBuffer.deallocate()
        positionText.deallocate()
        held.deallocate()
        for p in [createName, readName, unlinkName, temporaryName, positionName] { p.deallocate() }
    }

    /// Closes every descriptor (the worker's last act, or an idle output a reload replaces).
    mutating func close() {
        for fd in [writeFD, readFD, retiringFD, positionFD, directoryFD] where fd >= 0 { Glibc.close(fd) }
        writeFD = -1
        readFD = -1
        retiringFD = -1
        positionFD = -1
    }

    @inline(__always) static func writeName(_ number: UInt64, into name: UnsafeMutablePointer<CChar>) {
        var n = number
        var i = BufferDirectory.segmentNameDigits - 1
        while i >= 0 {
            name[i] = CChar(48 + Int(n % 10))
            n /= 10
            i -= 1
        }
        for (k, c) in BufferDirectory.segmentSuffix.utf8.enumerated() { name[BufferDirectory.segmentNameDigits + k] = CChar(bitPattern: c) }
        name[BufferDirectory.segmentNameDigits + BufferDirectory.segmentSuffix.utf8.count] = 0
    }

    func publishSize() {
        stats.set(.bytes, totalBytes)
        stats.set(.segments, UInt64(segments.count))
    }

    /// The user data of a buffer file operation of output `output` of `pipeline`.
    @inline(__always) static func userData(_ operation: DiskBufferOperation, pipeline: Int, output: Int) -> UInt64 {
        SluiceCore.userData(.bufferFile, pipeline, output | operation.rawValue << 8)
    }

    /// Whether nothing of the buffer's own is in flight and the reader and drain are at rest:
    /// with `halting`, everything not yet sent was given back and the position saved; with
    /// `emptying`, every record was delivered too.
    var isQuiet: Bool {
        guard creating == .none, !intervalSyncInFlight, !heldSyncInFlight, heldIn == heldOut, retiringFD < 0, !readOpening, !readInFlight, !unlinking,
              positionStep == nil, !positionDirty, inFlight == 0, drain.pointee.isIdle, !drain.pointee.sink.isConnecting,
              !writeSegmentRetirable else { return false }
        switch mode {
        case .running: return false
        case .halting: return true
        case .emptying: return readIndex >= segments.count - 1 && unreadBytes == 0
        }
    }

    /// Bytes of the segment being read (and the read buffer) not read into events yet.
    var unreadBytes: UInt64 {
        guard readIndex < segments.count else { return 0 }
        return UInt64(readEnd - readStart) + (segments[readIndex].bytes > readOffset ? segments[readIndex].bytes - readOffset : 0)
    }

    /// When this buffer wants the worker awake: a retry, an interval sync, a position save.
    func deadline(now: UInt64) -> UInt64? {
        var d = UInt64.max
        if writeFD < 0 && segmentWanted && creating == .none && createRetry.isWaiting { d = min(d, createRetry.atNanos) }
        if readRetry.isWaiting { d = min(d, readRetry.atNanos) }
        if case .interval(let micros) = options.sync, unsynced { d = min(d, lastSyncNanos + UInt64(micros) * 1000) }
        if positionDirty && positionStep == nil { d = min(d, mode == .running ? positionSavedNanos + positionIntervalNanos : now) }
        return d == .max ? nil : d
    }
}
