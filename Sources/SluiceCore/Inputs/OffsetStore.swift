import CSupport
import Glibc

/// The committed read position of every file source that keeps offsets: workers store into
/// the words (offset, inode, device) as acknowledged events come back; the control thread
/// reads them and persists them with `OffsetFile.write`.
public final class OffsetBook: @unchecked Sendable {
    public struct Entry {
        public let path: String
        public let storePath: String
        /// The pipeline whose file input this is (for the commit-lag metric).
        public let pipeline: Int
        /// [0] committed offset, [1] inode, [2] device.
        let words: UnsafeMutablePointer<UInt64>

        public var record: OffsetFile.Record {
            OffsetFile.Record(path: path, inode: sl_load_relaxed(words + 1), device: sl_load_relaxed(words + 2), offset: sl_load_relaxed(words))
        }
    }

    /// Workers add entries for files found after start while the control thread reads them:
    /// a mutex guards the list (neither side is on the event path).
    private var list: [Entry] = []
    private var lock = pthread_mutex_t()

    /// A snapshot of the entries. Read on the control thread only: it frees the words of the
    /// entries workers forgot since the last snapshot (no snapshot outlives the next one).
    public var entries: [Entry] {
        pthread_mutex_lock(&lock)
        defer { pthread_mutex_unlock(&lock) }
        for words in forgotten { words.deallocate() }
        forgotten.removeAll(keepingCapacity: true)
        return list
    }

    public init() { pthread_mutex_init(&lock, nil) }

    deinit {
        for e in list + retired { e.words.deallocate() }
        for words in forgotten { words.deallocate() }
        pthread_mutex_destroy(&lock)
    }

    func add(path: String, storePath: String, pipeline: Int, offset: UInt64, inode: UInt64, device: UInt64) -> UnsafeMutablePointer<UInt64> {
        let words = UnsafeMutablePointer<UInt64>.allocate(capacity: 8)
        words.initialize(repeating: 0, count: 8)
        words[0] = offset
        words[1] = inode
        words[2] = device
        pthread_mutex_lock(&lock)
        list.append(Entry(path: path, storePath: storePath, pipeline: pipeline, words: words))
        pthread_mutex_unlock(&lock)
        return words
    }

    /// Drops the entries of a pipeline a reload stopped (persist them first). Their words stay
    /// allocated: a finished source may still hold the pointer.
    func remove(pipeline: Int) {
        pthread_mutex_lock(&lock)
        let (gone, kept) = (list.filter { $0.pipeline == pipeline }, list.filter { $0.pipeline != pipeline })
        list = kept
        retired += gone
        pthread_mutex_unlock(&lock)
    }
    private var retired: [Entry] = []
    /// Words of entries `forget` dropped, freed by the control thread's next snapshot.
    private var forgotten: [UnsafeMutablePointer<UInt64>] = []

    /// Drops the entry of a file that is done for good (deleted and read to its end, every
    /// event acknowledged): it leaves the offsets file, so the book does not grow over a
    /// node's life with the files that came and went. The worker no longer uses `words`.
    func forget(_ words: UnsafeMutablePointer<UInt64>) {
        pthread_mutex_lock(&lock)
        if let i = list.firstIndex(where: { $0.words == words }) {
            list.remove(at: i)
            forgotten.append(words)
        }
        pthread_mutex_unlock(&lock)
    }

    /// Every store path with the records that go into it.
    public var stores: [String: [OffsetFile.Record]] {
        var result: [String: [OffsetFile.Record]] = [:]
        for e in entries { result[e.storePath, default: []].append(e.record) }
        return result
    }

    /// Writes every offsets file; failures are logged, not fatal (the next interval retries).
    public func persist() {
        for (store, records) in stores {
            do { try OffsetFile.write(path: store, records: records) } catch {
                Log.error("offsets", "\(error); offsets not saved this time")
            }
        }
    }
}

/// The offsets file: a header line, then one line per file, `OFFSET INODE DEVICE PATH`.
/// Written atomically (temp file, fsync, rename, fsync of the directory).
public enum OffsetFile {
    public struct Record: Equatable, Sendable {
        public var path: String
        public var inode: UInt64
        public var device: UInt64
        public var offset: UInt64
        public init(path: String, inode: UInt64, device: UInt64, offset: UInt64) {
            self.path = path
            self.inode = inode
            self.device = device
            self.offset = offset
        }
    }

    public static let header = "# sluice offsets v1: offset inode device path"

    public struct CorruptError: Error, CustomStringConvertible {
        public let path: String
        public let line: Int
        public let reason: String
        public var description: String { "\(path):\(line): corrupt offsets file: \(reason)" }
    }

    /// The records in `path`; an absent file has none.
    public static func read(path: String) throws -> [Record] {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        if fd < 0 {
            if errno == ENOENT { return [] }
            throw SystemError.lastErrno("open offsets file \(path)")
        }
        defer { close(fd) }
        var data: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if n < 0 { throw SystemError.lastErrno("read offsets file \(path)") }
            if n == 0 { break }
            data.append(contentsOf: chunk[0..<n])
            if data.count > 64 << 20 { throw CorruptError(path: path, line: 0, reason: "larger than 64 MiB") }
        }
        return try parse(String(decoding: data, as: UTF8.self), path: path)
    }

    public static func parse(_ text: String, path: String) throws(CorruptError) -> [Record] {
        var records: [Record] = []
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        if lines.last == "" { lines.removeLast() }
        guard let first = lines.first, first == header else {
            throw CorruptError(path: path, line: 1, reason: "missing header '\(header)'")
        }
        if !text.hasSuffix("\n") { throw CorruptError(path: path, line: lines.count, reason: "truncated (no final newline)") }
        for (i, line) in lines.enumerated().dropFirst() {
            let parts = line.split(separator: " ", maxSplits: 3, omittingEmptySubsequences: false)
            guard parts.count == 4, let offset = UInt64(parts[0]), let inode = UInt64(parts[1]), let device = UInt64(parts[2]), !parts[3].isEmpty else {
                throw CorruptError(path: path, line: i + 1, reason: "expected 'OFFSET INODE DEVICE PATH'")
            }
            records.append(Record(path: String(parts[3]), inode: inode, device: device, offset: offset))
        }
        return records
    }

    public static func render(_ records: [Record]) -> String {
        var text = header + "\n"
        for r in records { text += "\(r.offset) \(r.inode) \(r.device) \(r.path)\n" }
        return text
    }

    public static func write(path: String, records: [Record]) throws(SystemError) {
        let temp = path + ".tmp"
        let fd = open(temp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw .lastErrno("create \(temp)") }
        var bytes = Array(render(records).utf8)
        var written = 0
        while written < bytes.count {
            let n = bytes.withUnsafeMutableBytes { Glibc.write(fd, $0.baseAddress! + written, $0.count - written) }
            if n < 0 {
                let e = SystemError.lastErrno("write \(temp)")
                close(fd)
                throw e
            }
            written += n
        }
        if fsync(fd) != 0 {
            let e = SystemError.lastErrno("fsync \(temp)")
            close(fd)
            throw e
        }
        close(fd)
        if rename(temp, path) != 0 { throw .lastErrno("rename \(temp) to \(path)") }
        let slash = path.lastIndex(of: "/")
        let dir = slash.map { String(path[..<$0]) } ?? "."
        let dirFD = open(dir.isEmpty ? "/" : dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if dirFD >= 0 {
            fsync(dirFD)
            close(dirFD)
        }
    }
}
