import Glibc

/// Worker directories a run with more workers left (`worker-K` with K ≥ the worker count) are
/// adopted at start, before the workers run: worker `K mod workers` takes their undelivered
/// records. They are copied (blocking I/O, on the control thread) into new segments at the end
/// of the adopter's directory, numbered on from its next sequence number (the reader checks
/// that numbers grow), fdatasync'd, the directory fsync'd; only then are the orphan's files
/// removed. A crash in between delivers the copied records twice, never loses them.
extension BufferDirectory {
    /// Worker directories of an earlier run with more workers (any that are left, with or
    /// without segments: empty ones are removed by the adoption too).
    static func orphanedWorkers(_ base: String, workerCount: Int) -> [Int] {
        entries(base).compactMap { name -> Int? in
            guard name.hasPrefix("worker-"), let w = Int(name.dropFirst("worker-".count)), w >= workerCount else { return nil }
            return w
        }.sorted()
    }

    /// What an adoption moved: records and bytes copied, corrupt stretches skipped.
    struct Adoption: Equatable {
        var records = 0
        var bytes: UInt64 = 0
        var segments = 0
        var corruptRegions = 0
    }

    /// Copies the undelivered records of the worker directory `orphan` into `recovery`'s
    /// directory (the adopter's, recovered first) as new segments after its own, then removes
    /// `orphan`. `log` receives what was found (torn tails, corrupt stretches) and done.
    static func adopt(_ orphan: String, into recovery: inout BufferRecovery, maxPayloadBytes: Int,
                      log: (String) -> Void) throws(SystemError) -> Adoption {
        let found = try recover(orphan, maxPayloadBytes: maxPayloadBytes, log: log)
        defer { close(found.directoryFD) }
        recovery.tornTails += found.tornTails
        recovery.tornBytes += found.tornBytes
        var adoption = Adoption()
        var copier = RecordCopier(capacity: max(1 << 20, 2 * (BufferRecord.headerBytes + maxPayloadBytes)))
        defer { copier.deallocate() }
        for (i, segment) in found.segments.enumerated() {
            let name = segmentName(segment.number)
            let fd = openat(found.directoryFD, name, O_RDONLY | O_CLOEXEC)
            guard fd >= 0 else { throw .lastErrno("open \(orphan)/\(name)") }
            defer { close(fd) }
            let first = recovery.nextSequence
            try copier.begin(directoryFD: recovery.directoryFD, number: first, path: recovery.path)
            let scan = try scanSegment(fd: fd, bytes: segment.bytes, number: segment.number, from: i == 0 ? found.readOffset : 0,
                                       maxPayloadBytes: maxPayloadBytes) { record, header in
                copier.append(record, header: header, sequence: recovery.nextSequence)
                recovery.nextSequence += 1
            }
            if scan.corruptRegions > 0 {
                log("\(orphan)/\(name): \(scan.corruptRegions) corrupt stretch(es) skipped while adopting it")
                adoption.corruptRegions += scan.corruptRegions
                recovery.corruptRegions += scan.corruptRegions
            }
            let bytes = try copier.finish()
            if bytes == 0 {
                unlinkat(recovery.directoryFD, segmentName(first), 0)
                continue
            }
            recovery.segments.append(RecoveredSegment(number: first, bytes: bytes))
            adoption.records += scan.records
            adoption.bytes += bytes
            adoption.segments += 1
        }
        guard fsync(recovery.directoryFD) == 0 else { throw .lastErrno("fsync \(recovery.path)") }
        // The copies are durable: the orphan goes.
        for name in entries(orphan) { unlinkat(found.directoryFD, name, 0) }
        guard rmdir(orphan) == 0 else { throw .lastErrno("rmdir \(orphan)") }
        let base = String(orphan[..<(orphan.lastIndex(of: "/") ?? orphan.startIndex)])
        let baseFD = open(base.isEmpty ? "." : base, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if baseFD >= 0 {
            fsync(baseFD)
            close(baseFD)
        }
        log("\(orphan) (a worker of a run with more workers): \(adoption.records) undelivered record(s), \(adoption.bytes) B, adopted by \(recovery.path)")
        return adoption
    }
}

/// Writes records into one new segment at a time with blocking writes through a buffer,
/// renumbering each (its checksum sealed again).
struct RecordCopier {
    let buffer: UnsafeMutableRawPointer
    let capacity: Int
    var used = 0
    var fd: Int32 = -1
    var written: UInt64 = 0
    var path = ""
    var error: SystemError?

    init(capacity: Int) {
        self.capacity = capacity
        buffer = .allocate(byteCount: capacity, alignment: 4096)
    }

    func deallocate() {
        if fd >= 0 { close(fd) }
        buffer.deallocate()
    }

    mutating func begin(directoryFD: Int32, number: UInt64, path directory: String) throws(SystemError) {
        let name = BufferDirectory.segmentName(number)
        path = directory + "/" + name
        fd = openat(directoryFD, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o640)
        guard fd >= 0 else { throw .lastErrno("create \(path)") }
        written = 0
        used = 0
    }

    /// Appends `record` (valid, `header` says) as record number `sequence`.
    mutating func append(_ record: UnsafeRawPointer, header: BufferRecord.Header, sequence: UInt64) {
        if used + header.totalBytes > capacity { flush() }
        (buffer + used).copyMemory(from: record, byteCount: header.totalBytes)
        BufferRecord.seal(buffer + used, payloadBytes: header.payloadBytes, sequence: sequence, wallNanos: header.wallNanos)
        used += header.totalBytes
    }

    mutating func flush() {
        var offset = 0
        while offset < used && error == nil {
            let n = write(fd, buffer + offset, used - offset)
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { error = .lastErrno("write \(path)") } else { offset += n }
        }
        written += UInt64(offset)
        used = 0
    }

    /// Writes the rest, syncs and closes the segment; returns its bytes.
    mutating func finish() throws(SystemError) -> UInt64 {
        flush()
        if error == nil && fdatasync(fd) != 0 { error = .lastErrno("fdatasync \(path)") }
        close(fd)
        fd = -1
        if let error { throw error }
        return written
    }
}
