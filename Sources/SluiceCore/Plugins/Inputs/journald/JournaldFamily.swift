import CSupport
import Glibc

/// One journal being read by a worker.
struct JournalSource {
    /// The libsystemd reader (`sd_journal *`), used only by the worker that owns the source.
    let journal: OpaquePointer
    let pipeline: Int
    /// The worker that processes the stream (the reading one).
    let target: Int
    let follow: Bool
    let pollIntervalNanos: UInt64
    let offsetsPath: String?
    let offsetsIntervalNanos: UInt64
    var sourceID: UInt32 = 0
    var inputRow: Int32 = 0
    /// The entry at the saved cursor is read again by `sd_journal_next` after the seek: skipped.
    var skipCursor: String?
    var finished = false
    /// The journal is at an entry not yet made into an event (no event was free): the next read
    /// takes it without moving, and no cursor is taken meanwhile (it would be one entry ahead of
    /// `sequence`). Stepping back with `sd_journal_previous` instead cannot work at the journal's
    /// first entry, where it does not move and the entry would be skipped.
    var pendingEntry = false
    /// At the end of the journal since this time (0: not waiting).
    var endSince: UInt64 = 0
    /// Entries read so far: an event's offset is its entry's number, 1, 2, …
    var sequence: UInt64 = 0
    /// The highest entry number every output acknowledged (acks of a stream come in order).
    var acknowledged: UInt64 = 0
    /// A cursor taken at entry `checkpoint.sequence`, saved once that entry is acknowledged.
    var checkpoint: (sequence: UInt64, cursor: String)?
    var savedSequence: UInt64 = 0
    var nextCheckpointNanos: UInt64 = 0
    /// Closed by `retire` or `close`.
    var closed = false
}

/// The journald family on one worker: its journals, read with libsystemd on the worker thread
/// (the journal files are memory-mapped by the library; reading an entry is memory access, no
/// system call per entry). Each entry is written straight into a pool event as a JSON object.
///
/// Cursors: an entry's cursor costs an allocation in libsystemd, so it is not taken per entry.
/// About every `offsets-interval` the cursor of the entry just read is taken as a checkpoint;
/// once every output acknowledged that entry, the checkpoint is written to the offsets file
/// (atomically: a temporary file renamed over it). At stop, when everything read was
/// acknowledged, the cursor of the last entry is saved.
final class JournaldFamily: SourceFamily {
    struct Assignment: SourceAssignment {
        var journals: [JournalSource] = []
        mutating func merge(_ other: Assignment) { journals += other.journals }
        func closeAll() { for j in journals { sd_journal_close(j.journal) } }
    }

    static let kind = SourceIDs.Kind.journald

    let worker: Int
    var journals: [JournalSource]

    init(worker: Int, settings: NodeSettings, assignment: Assignment) {
        self.worker = worker
        journals = []
        for j in assignment.journals { add(j) }
    }

    private func add(_ source: JournalSource) {
        var source = source
        source.sourceID = SourceIDs.make(worker: worker, kind: .journald, generation: 0, index: journals.count)
        journals.append(source)
    }

    /// Opens the journal on the control thread (an error stops the start) and seeks to the
    /// saved cursor, or the head.
    static func prepare(_ input: JournaldInput, _ preparation: inout InputPreparation, into assignments: inout [WorkerAssignment]) throws(Node.SetupError) {
        var handle: OpaquePointer?
        let rc: Int32
        if let directory = input.directory {
            var st = stat()
            guard stat(directory, &st) == 0, st.st_mode & S_IFMT == S_IFDIR else {
                throw preparation.failure("journald", "directory \(directory) does not exist or is not a directory")
            }
            rc = sd_journal_open_directory(&handle, directory, 0)
        } else {
            rc = sd_journal_open(&handle, Int32(SD_JOURNAL_LOCAL_ONLY))
        }
        guard rc >= 0, let journal = handle else {
            throw preparation.failure("journald", "\(SystemError(negated: rc, operation: "open the journal" + (input.directory.map { " in \($0)" } ?? "")))")
        }
        var skip: String?
        if let path = input.offsetsPath, let cursor = readCursor(path) {
            if sd_journal_seek_cursor(journal, cursor) >= 0 {
                skip = cursor
            } else {
                Log.warn("input journald", "the cursor saved in \(path) is not valid: reading the journal from its start")
                sd_journal_seek_head(journal)
            }
        } else {
            sd_journal_seek_head(journal)
        }
        if input.offsetsPath != nil { preparation.offsetsIntervalMicros = min(preparation.offsetsIntervalMicros, input.offsetsIntervalMicros) }
        let reader = preparation.nextReader % preparation.workerCount
        preparation.nextReader += 1
        var source = JournalSource(journal: journal, pipeline: preparation.slot, target: reader, follow: input.follow,
                                   pollIntervalNanos: UInt64(input.pollIntervalMicros) * 1000, offsetsPath: input.offsetsPath,
                                   offsetsIntervalNanos: UInt64(input.offsetsIntervalMicros) * 1000)
        source.skipCursor = skip
        source.inputRow = preparation.inputRow
        assignments[reader].inputs.journald.journals.append(source)
    }

    /// The cursor saved in `path`, if any.
    static func readCursor(_ path: String) -> String? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { Glibc.close(fd) }
        var bytes = [UInt8](repeating: 0, count: 4096)
        let n = read(fd, &bytes, bytes.count)
        guard n > 0 else { return nil }
        let text = String(decoding: bytes[..<n], as: UTF8.self).trimmingTrailingNewlines()
        return text.isEmpty ? nil : text
    }

    func start(_ context: InputContext) {}

    func maintain(_ context: InputContext) {
        for j in journals.indices where journals[j].offsetsPath != nil { saveCursor(j, now: context.now, final: false) }
    }

    func service(_ context: InputContext) -> Bool {
        var progressed = false
        for j in journals.indices where !journals[j].finished {
            progressed = serviceJournal(j, context) || progressed
        }
        return progressed
    }

    func serviceJournal(_ j: Int, _ context: InputContext) -> Bool {
        guard !context.stopping else { return false }
        let now = context.now
        if journals[j].endSince != 0 {
            guard now >= journals[j].endSince + journals[j].pollIntervalNanos else { return false }
            journals[j].endSince = 0
            sd_journal_process(journals[j].journal)
        }
        let journal = journals[j].journal, pipeline = journals[j].pipeline
        let counters = context.counters
        var made = 0
        while made < context.batchCapacity {
            let rc: Int32
            if journals[j].pendingEntry {
                journals[j].pendingEntry = false
                rc = 1
            } else {
                rc = sd_journal_next(journal)
            }
            if rc < 0 {
                counters.add(.inputErrors, 1, pipeline: pipeline)
                Log.error("input journald", "\(SystemError(negated: rc, operation: "read the journal")); this journal is no longer read")
                journals[j].finished = true
                break
            }
            if rc == 0 {
                if journals[j].follow {
                    journals[j].endSince = now
                } else {
                    journals[j].finished = true
                }
                break
            }
            if let skip = journals[j].skipCursor {
                journals[j].skipCursor = nil
                if sd_journal_test_cursor(journal, skip) > 0 { continue }
            }
            guard let event = context.takeEvent() else {
                journals[j].pendingEntry = true  // read it once an event is free
                context.waitForFreeEvents()
                break
            }
            var json = JournalEntryJSON(into: event.data, capacity: Int(event.header.pointee.dataCapacity))
            sd_journal_restart_data(journal)
            var data: UnsafeRawPointer?
            var length = 0
            while sd_journal_enumerate_data(journal, &data, &length) > 0, let data {
                if !json.add(field: UnsafeRawBufferPointer(start: data, count: length)) { break }
            }
            var realtime: UInt64 = 0
            if sd_journal_get_realtime_usec(journal, &realtime) >= 0 {
                Self.addRealtime(realtime, to: &json)
            }
            let n = json.finish()
            journals[j].sequence += 1
            event.fill(length: n, offset: journals[j].sequence, sourceID: journals[j].sourceID, pipeline: pipeline, receivedNanos: now)
            if json.cut {
                event.set(EventFlags.cut)
                counters.add(.cutRecords, 1, pipeline: pipeline)
            }
            counters.add(.eventsIn, 1, pipeline: pipeline)
            counters.add(.bytesIn, n, pipeline: pipeline)
            counters.addInput(row: journals[j].inputRow, bytes: n)
            context.append(event.header.pointee.handle)
            made += 1
        }
        if made > 0 { context.dispatch(to: journals[j].target) }
        return made > 0
    }

    /// `"__REALTIME_TIMESTAMP":"<microseconds>"`, as journalctl writes it.
    static func addRealtime(_ micros: UInt64, to json: inout JournalEntryJSON) {
        var digits: (UInt64, UInt64, UInt64) = (0, 0, 0)
        withUnsafeMutableBytes(of: &digits) { buffer in
            var v = micros, n = 0
            repeat {
                buffer[23 - n] = UInt8(ascii: "0") + UInt8(v % 10)
                v /= 10
                n += 1
            } while v > 0
            let name: StaticString = "__REALTIME_TIMESTAMP"
            _ = json.add(name: UnsafeRawBufferPointer(start: name.utf8Start, count: name.utf8CodeUnitCount),
                         value: UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(buffer)[(24 - n)...]))
        }
    }

    /// Saves what every output acknowledged: a checkpoint once its entry is acknowledged, and at
    /// the end (`final`) the cursor of the last entry read when all of it was acknowledged.
    /// Takes the next checkpoint when one is due.
    func saveCursor(_ j: Int, now: UInt64, final: Bool) {
        guard let path = journals[j].offsetsPath, !journals[j].closed else { return }
        let journal = journals[j].journal
        // While an entry waits for an event the journal is one entry ahead of `sequence`.
        let atLastRead = !journals[j].pendingEntry
        if final, atLastRead, journals[j].acknowledged == journals[j].sequence, journals[j].sequence > journals[j].savedSequence,
           let cursor = Self.cursor(journal) {
            write(cursor, to: path)
            journals[j].savedSequence = journals[j].sequence
            journals[j].checkpoint = nil
            return
        }
        if let c = journals[j].checkpoint, journals[j].acknowledged >= c.sequence {
            write(c.cursor, to: path)
            journals[j].savedSequence = c.sequence
            journals[j].checkpoint = nil
        }
        if !final, atLastRead, journals[j].checkpoint == nil, journals[j].sequence > journals[j].savedSequence, now >= journals[j].nextCheckpointNanos,
           let cursor = Self.cursor(journal) {
            journals[j].checkpoint = (journals[j].sequence, cursor)
            journals[j].nextCheckpointNanos = now + journals[j].offsetsIntervalNanos
        }
    }

    /// The cursor of the entry the journal is at.
    static func cursor(_ journal: OpaquePointer) -> String? {
        var text: UnsafeMutablePointer<CChar>?
        guard sd_journal_get_cursor(journal, &text) >= 0, let text else { return nil }
        defer { free(text) }
        return String(cString: text)
    }

    /// Replaces the offsets file atomically (a temporary file beside it, renamed over it).
    func write(_ cursor: String, to path: String) {
        let temporary = path + ".tmp"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            Log.error("input journald", "\(SystemError.lastErrno("open \(temporary)")): the cursor is not saved")
            return
        }
        let line = Array((cursor + "\n").utf8)
        let written = line.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
        let synced = fsync(fd) == 0
        Glibc.close(fd)
        guard written == line.count, synced, rename(temporary, path) == 0 else {
            Log.error("input journald", "\(SystemError.lastErrno("write \(path)")): the cursor is not saved")
            return
        }
    }

    func complete(_ kind: NoCompletion, _ a: Int, _ b: Int, result: Int32, flags: UInt32, _ context: InputContext) {
        preconditionFailure("completion routed to the journald family, which issues no ring I/O")
    }

    func stop(pipeline: Int?, _ context: InputContext) {
        for j in journals.indices where pipeline.map({ $0 == journals[j].pipeline }) ?? true { journals[j].finished = true }
    }

    func isQuiet(pipeline slot: Int) -> Bool { true }

    func isFinished(stopping: Bool) -> Bool { journals.allSatisfy(\.finished) }

    func deadline(before deadline: UInt64, now: UInt64) -> UInt64 {
        var earliest = deadline
        for j in journals.indices where !journals[j].finished {
            if journals[j].endSince != 0 { earliest = min(earliest, journals[j].endSince + journals[j].pollIntervalNanos) }
            if journals[j].offsetsPath != nil && (journals[j].checkpoint != nil || journals[j].sequence > journals[j].savedSequence) {
                earliest = min(earliest, max(now + 10_000_000, journals[j].nextCheckpointNanos))
            }
        }
        return earliest
    }

    func install(_ assignment: Assignment, _ context: InputContext) {
        for j in assignment.journals { add(j) }
    }

    /// Saves the cursor of a replaced pipeline's finished journals and closes them.
    func retire(pipeline slot: Int) {
        for j in journals.indices where journals[j].pipeline == slot && journals[j].finished && !journals[j].closed {
            saveCursor(j, now: 0, final: true)
            sd_journal_close(journals[j].journal)
            journals[j].closed = true
        }
    }

    @inline(__always) func acknowledged(sourceID: UInt32, offset: UInt64) {
        let j = SourceIDs.index(sourceID)
        if j < journals.count { journals[j].acknowledged = offset }
    }

    /// At exit, everything read acknowledged or given up: the last cursor, then the journals close.
    func close() {
        for j in journals.indices where !journals[j].closed {
            saveCursor(j, now: 0, final: true)
            sd_journal_close(journals[j].journal)
            journals[j].closed = true
        }
    }
}

private extension String {
    func trimmingTrailingNewlines() -> String {
        var s = Substring(self)
        while let last = s.last, last == "\n" || last == "\r" || last == " " { s = s.dropLast() }
        return String(s)
    }
}
