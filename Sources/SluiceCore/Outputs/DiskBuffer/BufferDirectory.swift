import Glibc

/// Where a disk buffer's reader stands: records of segment `segment` before byte `offset` (and
/// every earlier segment) were delivered; `sequence` is the last delivered record's number.
/// Saved as one line, `segment=N offset=N sequence=N`, in the file `position` of the worker's
/// directory: written to `position.tmp`, fsync'd, renamed over `position`, and the directory
/// fsync'd (the worker does it through its ring, `DiskBuffer+Position.swift`).
struct BufferPosition: Equatable {
    var segment: UInt64
    var offset: UInt64
    var sequence: UInt64

    static let fileName = "position"
    static let temporaryName = "position.tmp"

    var text: String { "segment=\(segment) offset=\(offset) sequence=\(sequence)\n" }

    /// The position in `text`, or nil when it is not one.
    static func parse(_ text: String) -> BufferPosition? {
        guard text.hasSuffix("\n") else { return nil }
        let fields = text.dropLast().split(separator: " ")
        guard fields.count == 3 else { return nil }
        var values: [UInt64] = []
        for (field, key) in zip(fields, ["segment=", "offset=", "sequence="]) {
            guard field.hasPrefix(key), let v = UInt64(field.dropFirst(key.count)) else { return nil }
            values.append(v)
        }
        return BufferPosition(segment: values[0], offset: values[1], sequence: values[2])
    }
}

/// A segment file as a start found it.
struct RecoveredSegment: Equatable {
    /// The first sequence number the segment may hold (its file name).
    var number: UInt64
    var bytes: UInt64
}

/// What a start found in one worker's buffer directory, for the worker's `DiskBuffer`.
struct BufferRecovery {
    let path: String
    /// The directory, open (O_DIRECTORY): segments and the position are opened relative to it.
    let directoryFD: Int32
    /// Oldest first.
    var segments: [RecoveredSegment] = []
    /// Where reading starts: in `segments[0]` at this byte.
    var readOffset: UInt64 = 0
    /// The last delivered record's number (from the position file), 0 when unknown.
    var deliveredSequence: UInt64 = 0
    /// The number the next record written gets (and the next segment's name).
    var nextSequence: UInt64 = 1
    /// Torn tails cut from the last segment (0 or 1) and their bytes.
    var tornTails = 0
    var tornBytes: UInt64 = 0
    /// Corrupt stretches skipped while adopting an orphaned worker directory (`adopt`).
    var corruptRegions = 0
    /// Where the worker publishes the buffer's stats (`NodeShared.bufferStats(worker:entry:)`).
    var statsEntry = 0
}

/// The files of a disk buffer: one directory per output (`buffer-dir`), one subdirectory per
/// worker (`worker-N`) holding segment files named by their first sequence number
/// (`00000000000000000001.seg`, 20 digits so names sort as numbers) and the `position` file.
/// A start opens and checks them on the control thread, before the workers run: it deletes
/// segments the position says were delivered, cuts a torn tail off the last segment (a
/// record the crash left half-written, or one that fails its checksum with no valid record
/// after it), and tells the worker where to read and how to number new records. Corrupt
/// records in the middle are left for the reader, which skips to the next valid one.
enum BufferDirectory {
    static let segmentSuffix = ".seg"
    static let segmentNameDigits = 20
    static let lockName = "lock"

    static func workerDirectory(_ base: String, worker: Int) -> String { base + "/worker-\(worker)" }

    static func segmentName(_ number: UInt64) -> String {
        let digits = String(number)
        return String(repeating: "0", count: max(0, segmentNameDigits - digits.count)) + digits + segmentSuffix
    }

    static func segmentNumber(_ name: String) -> UInt64? {
        guard name.hasSuffix(segmentSuffix), name.utf8.count == segmentNameDigits + segmentSuffix.utf8.count else { return nil }
        return UInt64(name.dropLast(segmentSuffix.count))
    }

    /// The entries of `path`, without `.` and `..`.
    static func entries(_ path: String) -> [String] {
        guard let dir = opendir(path) else { return [] }
        defer { closedir(dir) }
        var names: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            if name != "." && name != ".." { names.append(name) }
        }
        return names
    }

    /// Creates `path` and its missing parents (mode 0750).
    static func makeDirectories(_ path: String) throws(SystemError) {
        var prefix = path.hasPrefix("/") ? "" : "."
        for part in path.split(separator: "/") {
            prefix += "/" + part
            if mkdir(prefix, 0o750) != 0 && errno != EEXIST { throw .lastErrno("mkdir \(prefix)") }
        }
    }

    /// Takes the output's directory for this process (an exclusive flock on `lock`, held as long
    /// as the returned descriptor is open): two nodes on one buffer would interleave their records.
    static func lock(_ base: String) throws(SystemError) -> Int32 {
        try makeDirectories(base)
        let path = base + "/" + lockName
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o640)
        guard fd >= 0 else { throw .lastErrno("open \(path)") }
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            let error = SystemError.lastErrno("flock \(path) (another sluice uses this buffer-dir)")
            close(fd)
            throw error
        }
        return fd
    }

    /// Opens and checks one worker's directory (created when missing). `log` receives what was
    /// found and done (torn tails, an unreadable position, delivered segments removed).
    static func recover(_ path: String, maxPayloadBytes: Int, log: (String) -> Void) throws(SystemError) -> BufferRecovery {
        try makeDirectories(path)
        let directoryFD = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard directoryFD >= 0 else { throw .lastErrno("open \(path)") }
        var recovery = BufferRecovery(path: path, directoryFD: directoryFD)
        let names = entries(path)
        if names.contains(BufferPosition.temporaryName) { unlinkat(directoryFD, BufferPosition.temporaryName, 0) }
        var segments = names.compactMap { segmentNumber($0) }.sorted().map { number -> RecoveredSegment in
            var info = stat()
            let size = fstatat(directoryFD, segmentName(number), &info, 0) == 0 ? UInt64(max(0, info.st_size)) : 0
            return RecoveredSegment(number: number, bytes: size)
        }
        var position: BufferPosition?
        if names.contains(BufferPosition.fileName) {
            position = readPosition(directoryFD: directoryFD)
            if position == nil { log("\(path)/\(BufferPosition.fileName) is not a position; reading from the oldest segment (records may come twice)") }
        }
        if let position {
            recovery.deliveredSequence = position.sequence
            recovery.nextSequence = position.sequence + 1
            // Segments before the position's were delivered whole (the reader was past them).
            while let first = segments.first, first.number < position.segment {
                unlinkat(directoryFD, segmentName(first.number), 0)
                segments.removeFirst()
            }
            if let first = segments.first, first.number == position.segment { recovery.readOffset = min(position.offset, first.bytes) }
        }
        try cutTornTail(&segments, &recovery, maxPayloadBytes: maxPayloadBytes, log: log)
        if let last = segments.last { recovery.nextSequence = max(recovery.nextSequence, last.number) }
        recovery.segments = segments
        return recovery
    }

    /// Scans the last segment that holds a valid record: the bytes after its last valid record
    /// are a torn tail, cut (ftruncate); empty segments after it are removed. Sets the next
    /// sequence number past the last valid record.
    static func cutTornTail(_ segments: inout [RecoveredSegment], _ recovery: inout BufferRecovery, maxPayloadBytes: Int,
                            log: (String) -> Void) throws(SystemError) {
        while let last = segments.last {
            let name = segmentName(last.number)
            let fd = openat(recovery.directoryFD, name, O_RDWR | O_CLOEXEC)
            guard fd >= 0 else { throw .lastErrno("open \(recovery.path)/\(name)") }
            defer { close(fd) }
            let start = segments.count == 1 ? recovery.readOffset : 0
            let scan = try scanSegment(fd: fd, bytes: last.bytes, number: last.number, from: start, maxPayloadBytes: maxPayloadBytes)
            if scan.validEnd < last.bytes {
                let cut = last.bytes - scan.validEnd
                guard ftruncate(fd, off_t(scan.validEnd)) == 0 else { throw .lastErrno("ftruncate \(recovery.path)/\(name)") }
                _ = fdatasync(fd)
                recovery.tornTails += 1
                recovery.tornBytes += cut
                log("\(recovery.path)/\(name): torn tail at byte \(scan.validEnd): \(cut) byte(s) after the last valid record cut")
                segments[segments.count - 1].bytes = scan.validEnd
            }
            if let sequence = scan.lastSequence {
                recovery.nextSequence = max(recovery.nextSequence, sequence + 1)
                return
            }
            if scan.validEnd > start { return }  // valid records, all before the read position
            // Nothing valid in it (a segment the crash left empty): it goes.
            unlinkat(recovery.directoryFD, name, 0)
            segments.removeLast()
            if segments.isEmpty { recovery.readOffset = 0 }
        }
    }

    struct SegmentScan {
        /// Just past the last valid record (`from` when there is none).
        var validEnd: UInt64
        var lastSequence: UInt64?
        var records = 0
        /// Stretches of bytes between valid records that are not records.
        var corruptRegions = 0
    }

    /// Reads a segment from `from` on, record by record, skipping corrupt stretches to the next
    /// valid record (blocking reads: a start, on the control thread); `visit` sees each valid
    /// record.
    static func scanSegment(fd: Int32, bytes: UInt64, number: UInt64, from: UInt64, maxPayloadBytes: Int,
                            visit: (UnsafeRawPointer, BufferRecord.Header) -> Void = { _, _ in }) throws(SystemError) -> SegmentScan {
        let capacity = max(1 << 20, 2 * (BufferRecord.headerBytes + maxPayloadBytes))
        let buffer = UnsafeMutableRawPointer.allocate(byteCount: capacity, alignment: 4096)
        defer { buffer.deallocate() }
        var scan = SegmentScan(validEnd: from)
        var window = BufferRecord.Window(after: nil, atLeast: number, before: UInt64.max)
        var fileOffset = from  // of buffer[0]
        var filled = 0
        var position = 0
        var corrupt = false
        while true {
            if filled - position < capacity / 2 && fileOffset + UInt64(filled) < bytes {
                // Keep the unread part, then fill the rest of the buffer.
                if position > 0 {
                    buffer.copyMemory(from: buffer + position, byteCount: filled - position)
                    fileOffset += UInt64(position)
                    filled -= position
                    position = 0
                }
                let want = min(capacity - filled, Int(bytes - fileOffset) - filled)
                let n = pread(fd, buffer + filled, want, off_t(fileOffset) + off_t(filled))
                if n < 0 { throw .lastErrno("read segment \(segmentName(number))") }
                if n == 0 { break }
                filled += n
                continue
            }
            if position >= filled { break }
            let atEnd = fileOffset + UInt64(filled) >= bytes
            let result = BufferRecord.check(buffer + position, available: filled - position, window: window, maxPayloadBytes: maxPayloadBytes)
            if case .valid(let header) = result {
                visit(buffer + position, header)
                position += header.totalBytes
                scan.records += 1
                scan.lastSequence = header.sequence
                scan.validEnd = fileOffset + UInt64(position)
                window.after = header.sequence
                corrupt = false
                continue
            }
            if case .incomplete = result, !atEnd { continue }  // the loop reads more first
            // Not a record (or one the end of the file cuts off): skip to the next valid one.
            if !corrupt { scan.corruptRegions += 1 }
            corrupt = true
            position = BufferRecord.resynchronize(buffer, available: filled, from: position + 1, window: window,
                                                  maxPayloadBytes: maxPayloadBytes, final: atEnd)
        }
        return scan
    }

    static func readPosition(directoryFD: Int32) -> BufferPosition? {
        let fd = openat(directoryFD, BufferPosition.fileName, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var bytes = [UInt8](repeating: 0, count: 256)
        let n = bytes.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        guard n > 0 else { return nil }
        return BufferPosition.parse(String(decoding: bytes[0..<n], as: UTF8.self))
    }

    /// Writes the position atomically with blocking calls (tests and tools; the worker does the
    /// same through its ring).
    static func writePosition(_ position: BufferPosition, directory: String) throws(SystemError) {
        let temp = directory + "/" + BufferPosition.temporaryName
        let fd = open(temp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o640)
        guard fd >= 0 else { throw .lastErrno("open \(temp)") }
        let bytes = Array(position.text.utf8)
        let n = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        guard n == bytes.count, fsync(fd) == 0 else {
            let error = SystemError.lastErrno("write \(temp)")
            close(fd)
            throw error
        }
        close(fd)
        guard rename(temp, directory + "/" + BufferPosition.fileName) == 0 else { throw .lastErrno("rename \(temp)") }
        let dirFD = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if dirFD >= 0 {
            fsync(dirFD)
            close(dirFD)
        }
    }
}
