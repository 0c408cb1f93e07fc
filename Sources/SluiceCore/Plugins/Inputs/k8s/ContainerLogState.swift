import Glibc

/// One container log file's decoding state on the worker that reads it (`RecordDecoder`'s
/// per-source part for `.containerLog`): the JSON members its events carry (Kubernetes
/// metadata from the file name), and per stream the partial lines that wait for the rest of
/// their record.
///
/// Partial lines give their pool slot back at once: their message is copied into the stream's
/// buffer (`maxEventBytes`, mapped at the stream's first partial line and kept until the source
/// ends; so at most two per file), and the line that ends the record is written as one event of
/// the joined message. Pages are resident only as far as a record reached, and past
/// `retainedPartialBytes` they are given back once the record is handed on: at rest a file
/// holds at most that much per stream. That event carries the offset past its own line, and every
/// event handed on while a record is pending carries at most the offset where that record's
/// first line starts: a crash, or a stop, reads the record again from its first line.
struct ContainerLogState {
    /// `,"namespace":…` (or nothing, for a file not named the kubelet's way).
    let members: UnsafeMutableRawBufferPointer
    /// Scratch for the members of a Docker line (`ContainerLogLine.dockerFieldCapacity`).
    let fields: UnsafeMutablePointer<FieldEntry>
    /// By `ContainerLogLine.Stream`: stdout, stderr.
    let partials: UnsafeMutablePointer<PartialRecord>
    /// Where the next line starts: the end of the last line decoded.
    var lineStart: UInt64
    let maxEventBytes: Int
    /// The bytes of a stream's buffer kept resident between records (the rest is returned to
    /// the kernel after a longer record): most split lines are one or two runtime pieces (16 KiB).
    static let retainedPartialBytes = 64 << 10

    /// The record a stream's partial lines make so far.
    struct PartialRecord {
        var active = false
        var format = ContainerLogLine.Format.cri
        /// `ContainerLogLine.maxTimeBytes` of time, then up to `maxEventBytes` of message
        /// (CRI: as written; Docker: escaped); nil until the stream's first partial line.
        var buffer: UnsafeMutableRawPointer?
        var timeLength = 0
        var count = 0
        /// The message outgrew the buffer (counted once).
        var cut = false
        /// Where its first line starts in the file.
        var start: UInt64 = 0
        /// When its last line was read (the worker's clock): `partial-timeout` counts from it.
        var updatedNanos: UInt64 = 0

        var time: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: buffer, count: timeLength) }
        var message: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: buffer.map { $0 + ContainerLogLine.maxTimeBytes }, count: count) }
    }

    init(members bytes: [UInt8], maxEventBytes: Int, startOffset: UInt64) {
        members = .allocate(byteCount: bytes.count, alignment: 8)
        members.copyBytes(from: bytes)
        fields = .allocate(capacity: ContainerLogLine.dockerFieldCapacity)
        partials = .allocate(capacity: 2)
        partials.initialize(repeating: PartialRecord(), count: 2)
        lineStart = startOffset
        self.maxEventBytes = maxEventBytes
    }

    /// The state of the file at `path`, read from `startOffset`; its members from the name
    /// (`PodLogName`), none when it is not named the kubelet's way (logged).
    static func make(path: String, maxEventBytes: Int, startOffset: UInt64) -> UnsafeMutablePointer<ContainerLogState> {
        let name = PodLogName(path: path)
        if name == nil {
            Log.warn("input k8s", "\(path) is not named <pod>_<namespace>_<container>-<64 hex id>.log: its events carry no namespace, pod, container or container_id")
        }
        let state = UnsafeMutablePointer<ContainerLogState>.allocate(capacity: 1)
        state.initialize(to: ContainerLogState(members: name?.members ?? [], maxEventBytes: maxEventBytes, startOffset: startOffset))
        return state
    }

    func dispose() {
        members.deallocate()
        fields.deallocate()
        for s in 0..<2 {
            if let buffer = partials[s].buffer { munmap(buffer, bufferBytes) }
        }
        partials.deallocate()
    }

    /// A stream buffer's size: the time, then the message, in whole pages.
    var bufferBytes: Int { (ContainerLogLine.maxTimeBytes + maxEventBytes + 4095) & ~4095 }

    /// Anonymous memory: its pages are resident only once written, and can be given back.
    func mapBuffer() -> UnsafeMutableRawPointer {
        let memory = mmap(nil, bufferBytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)
        guard let memory, memory != MAP_FAILED else { fatalError("cannot map \(bufferBytes) bytes for a container log's partial lines: \(SystemError.lastErrno("mmap"))") }
        return memory
    }

    /// A record was handed on: the pages it used past `retainedPartialBytes` go back to the kernel.
    func release(_ p: UnsafeMutablePointer<PartialRecord>) {
        p.pointee.active = false
        let used = ContainerLogLine.maxTimeBytes + p.pointee.count
        guard used > Self.retainedPartialBytes, let buffer = p.pointee.buffer else { return }
        madvise(buffer + Self.retainedPartialBytes, (used - Self.retainedPartialBytes + 4095) & ~4095, MADV_DONTNEED)
    }

    /// The offset an event ending at `end` may commit: not past the first line of a record
    /// still pending in either stream.
    @inline(__always) func committable(_ end: UInt64) -> UInt64 {
        var offset = end
        if partials[0].active { offset = min(offset, partials[0].start) }
        if partials[1].active { offset = min(offset, partials[1].start) }
        return offset
    }

    /// A record is pending whose last line was read at or before `cutoff`.
    func hasPending(updatedBy cutoff: UInt64) -> Bool {
        (partials[0].active && partials[0].updatedNanos <= cutoff) || (partials[1].active && partials[1].updatedNanos <= cutoff)
    }

    /// The records pending are dropped (the source stops: they are read again from the committed
    /// offset, which is not past their first lines).
    mutating func abandon() {
        release(partials)
        release(partials + 1)
    }

    /// The source reads a new file from its start (a rotation): a pending record goes on with
    /// the new file's lines (the runtime writes the rest of a split line there); what it holds
    /// of the old file can no longer be read again.
    mutating func restarted() {
        lineStart = 0
        partials[0].start = 0
        partials[1].start = 0
    }

    /// Adds a partial line's message to its stream's record (started by this line when none
    /// is pending). Past `maxEventBytes` the message is cut (flagged once, counted).
    mutating func fold(_ line: ContainerLogLine, _ raw: UnsafeRawBufferPointer, nowNanos: UInt64, counters: CounterBlock, pipeline: Int) {
        let p = partials + line.stream.rawValue
        p.pointee.updatedNanos = nowNanos
        if !p.pointee.active {
            if p.pointee.buffer == nil { p.pointee.buffer = mapBuffer() }
            p.pointee.active = true
            p.pointee.format = line.format
            p.pointee.start = lineStart
            p.pointee.count = 0
            p.pointee.cut = false
            p.pointee.timeLength = line.time.count
            p.pointee.buffer!.copyMemory(from: raw.baseAddress! + line.time.lowerBound, byteCount: line.time.count)
        }
        let wasCut = p.pointee.cut
        let dropped = append(UnsafeRawBufferPointer(rebasing: raw[line.log]), to: p)
        countCut(dropped: dropped, newly: p.pointee.cut && !wasCut, counters: counters, pipeline: pipeline)
    }

    /// Adds `message` to a pending record; past `maxEventBytes` the rest is dropped and the
    /// record marked cut. Returns the bytes dropped (the caller counts them: `countCut`).
    func append(_ message: UnsafeRawBufferPointer, to p: UnsafeMutablePointer<PartialRecord>) -> Int {
        let room = maxEventBytes - p.pointee.count
        var n = message.count
        if n > room {
            // Escaped text is cut between characters, so the record stays valid JSON.
            n = p.pointee.format == .docker ? JSONEscaper.escapedPrefixLength(message, atMost: room) : room
            p.pointee.cut = true
        }
        if n > 0 {
            (p.pointee.buffer! + ContainerLogLine.maxTimeBytes + p.pointee.count).copyMemory(from: message.baseAddress!, byteCount: n)
            p.pointee.count += n
        }
        return message.count - n
    }

    /// A record cut while joined counts once in cut_records; every byte dropped in cut_bytes.
    func countCut(dropped: Int, newly: Bool, counters: CounterBlock, pipeline: Int) {
        if newly { counters.add(.cutRecords, 1, pipeline: pipeline) }
        if dropped > 0 { counters.add(.cutBytes, dropped, pipeline: pipeline) }
    }
}
