import Glibc

/// The control thread's part of the file family: opening the files a file or stdin input
/// names, where each starts (saved offsets, `offsets-op`), parallel ranges, and which worker
/// reads each.
extension FileFamily {
    static func prepare(_ file: FileInput, _ preparation: inout InputPreparation, into assignments: inout [WorkerAssignment]) throws(Node.SetupError) {
        let paths: [String]
        do { paths = try file.expand() } catch { throw preparation.failure(file.pluginName, "\(error)") }
        if file.offsetsPath != nil { preparation.offsetsIntervalMicros = min(preparation.offsetsIntervalMicros, file.offsetsIntervalMicros) }
        var saved: [OffsetFile.Record] = []
        if let store = file.offsetsPath, file.offsetsOp == .continue {
            do { saved = try OffsetFile.read(path: store) } catch {
                Log.error("input \(file.pluginName)", "\(error); starting every file from its beginning")
            }
        }
        let workerCount = preparation.workerCount
        // Read by the worker that rescans the paths, written by whichever worker closes a
        // deleted file.
        let deletedPaths = file.follow ? DeletedPaths() : nil
        for path in paths {
            let fd = open(path, O_RDONLY | O_CLOEXEC)
            guard fd >= 0 else { throw preparation.failure(file.pluginName, "\(SystemError.lastErrno("open \(path)"))") }
            var st = stat()
            fstat(fd, &st)
            let inode = UInt64(st.st_ino), device = UInt64(st.st_dev), size = UInt64(st.st_size)
            if file.parallel && workerCount > 1 && size >= UInt64(FileInput.minimumParallelFileBytes) {
                try prepareRanges(file, path: path, fd: fd, inode: inode, device: device, size: size, &preparation, into: &assignments)
                continue
            }
            // A followed file rotated while the node was down: read the rest of the saved file
            // first (found by its inode beside the path), then the path's file from its start.
            let resumed = file.follow && file.maxRotated > 0 ? resumeRotated(file, path: path, inode: inode, device: device, saved: saved) : nil
            let start = resumed?.offset ?? startOffset(file, path: path, inode: inode, device: device, size: size, saved: saved)
            let reader = preparation.nextReader % workerCount
            preparation.nextReader += 1
            let (readFD, readInode, readDevice) = resumed.map { ($0.fd, $0.inode, $0.device) } ?? (fd, inode, device)
            let words = file.offsetsPath.map {
                preparation.offsets.add(path: path, storePath: $0, pipeline: preparation.slot, offset: start, inode: readInode, device: readDevice)
            }
            var source = FileSource(path: path, fd: readFD, pipeline: preparation.slot, target: reader, follow: file.follow, isStdin: false,
                                    pollIntervalMicros: file.pollIntervalMicros, readBytes: preparation.settings.readBufferBytes,
                                    owner: reader, index: try nextIndex(assignments[reader], preparation),
                                    maxEventBytes: preparation.settings.pool.maxEventSizeBytes,
                                    startOffset: start, inode: readInode, device: readDevice, commitWords: words,
                                    inputRow: preparation.inputRow, maxRotated: file.maxRotated)
            source.adopt(file, deletedPaths: deletedPaths)
            if resumed != nil { source.successors.append(Successor(fd: fd, inode: inode, device: device)) }
            assignments[reader].inputs.file.files.append(source)
        }
        if file.follow {
            // Files that appear later under these paths are picked up by one worker.
            let scanner = (preparation.nextReader + workerCount - 1) % workerCount
            var watch = GlobWatch(pipeline: preparation.slot, input: file, known: Set(paths), intervalNanos: UInt64(file.rescanIntervalMicros) * 1000,
                                  deletedPaths: deletedPaths!)
            watch.inputRow = preparation.inputRow
            assignments[scanner].inputs.file.globWatches.append(watch)
        }
    }

    static func prepareStdin(_ preparation: inout InputPreparation, into assignments: inout [WorkerAssignment]) throws(Node.SetupError) {
        let reader = preparation.nextReader % preparation.workerCount
        preparation.nextReader += 1
        assignments[reader].inputs.file.files.append(FileSource(path: "stdin", fd: 0, pipeline: preparation.slot, target: reader, follow: false, isStdin: true,
                                                         pollIntervalMicros: 100_000, readBytes: preparation.settings.readBufferBytes,
                                                         owner: reader, index: try nextIndex(assignments[reader], preparation),
                                                         maxEventBytes: preparation.settings.pool.maxEventSizeBytes,
                                                         inputRow: preparation.inputRow))
    }

    /// The saved file of a followed path that now names another file: if a file with the saved
    /// inode is still in the path's directory (logrotate's `app.log.1`), or in the directory of
    /// the file the path leads to through symbolic links (the kubelet's
    /// `/var/log/containers/*.log` lead to `/var/log/pods/…/0.log`, rotated to `0.log.<time>`
    /// beside it), and holds the saved offset, it is opened to be read on from there.
    static func resumeRotated(_ file: FileInput, path: String, inode: UInt64, device: UInt64,
                              saved: [OffsetFile.Record]) -> (fd: Int32, inode: UInt64, device: UInt64, offset: UInt64)? {
        guard file.offsetsOp == .continue, let r = saved.last(where: { $0.path == path }),
              r.inode != inode || r.device != device else { return nil }
        var directories = [directoryOf(path)]
        if let resolved = realpath(path, nil) {
            let target = directoryOf(String(cString: resolved))
            free(resolved)
            if target != directories[0] { directories.append(target) }
        }
        for directory in directories {
            guard let found = openSaved(r, in: directory) else { continue }
            Log.info("input \(file.pluginName)", "\(path) was rotated while the node was down: reading \(found.path) on from its saved offset \(r.offset), then \(path) from its start")
            return (found.fd, r.inode, r.device, r.offset)
        }
        return nil
    }

    static func directoryOf(_ path: String) -> String {
        path.lastIndex(of: "/").map { $0 == path.startIndex ? "/" : String(path[..<$0]) } ?? "."
    }

    /// The file of `directory` with the saved record's inode and device, at least as long as its
    /// offset, opened.
    static func openSaved(_ r: OffsetFile.Record, in directory: String) -> (fd: Int32, path: String)? {
        guard let dir = opendir(directory) else { return nil }
        defer { closedir(dir) }
        while let entry = readdir(dir) {
            guard entry.pointee.d_ino == r.inode else { continue }
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix(while: { $0 != 0 }), as: UTF8.self) }
            let candidate = directory == "/" ? "/" + name : directory + "/" + name
            let fd = open(candidate, O_RDONLY | O_CLOEXEC)
            guard fd >= 0 else { continue }
            var st = stat()
            guard fstat(fd, &st) == 0, UInt64(st.st_ino) == r.inode, UInt64(st.st_dev) == r.device, UInt64(st.st_size) >= r.offset else {
                Glibc.close(fd)
                continue
            }
            return (fd, candidate)
        }
        return nil
    }

    /// Where a file starts: its saved offset when it is the same file and not shorter, its end
    /// with `offsets-op=tail`, else its beginning.
    static func startOffset(_ file: FileInput, path: String, inode: UInt64, device: UInt64, size: UInt64, saved: [OffsetFile.Record]) -> UInt64 {
        switch file.offsetsOp {
        case .tail: return size
        case .reset: return 0
        case .continue:
            guard let r = saved.last(where: { $0.path == path }) else { return 0 }
            if r.inode == inode && r.device == device && r.offset <= size { return r.offset }
            if r.inode == inode && r.device == device {
                Log.warn("input file", "\(path) is shorter (\(size) B) than its saved offset \(r.offset): reading it from the start")
            } else {
                Log.warn("input file", "\(path) is a different file than the saved one (inode \(r.inode) → \(inode)): reading it from the start")
            }
            return 0
        }
    }

    /// `parallel=true`: ranges of about `parallel-range` bytes (at least one per worker), each
    /// cut just after a newline. Each worker starts with one and claims the next free one when
    /// done; a worker's ranges form its one stream.
    static func prepareRanges(_ file: FileInput, path: String, fd: Int32, inode: UInt64, device: UInt64, size: UInt64,
                              _ preparation: inout InputPreparation, into assignments: inout [WorkerAssignment]) throws(Node.SetupError) {
        let workerCount = preparation.workerCount
        let rangeCount = max(workerCount, Int((size + UInt64(file.parallelRangeBytes) - 1) / UInt64(file.parallelRangeBytes)))
        var bounds: [UInt64] = [0]
        for k in 1..<rangeCount {
            bounds.append(max(bounds.last!, lineStart(fd: fd, near: size * UInt64(k) / UInt64(rangeCount), size: size)))
        }
        bounds.append(size)
        let first = (0..<rangeCount).filter { bounds[$0] < bounds[$0 + 1] }.prefix(workerCount)
        let ranges = ParallelRanges(bounds: bounds, firstUnclaimed: (first.last ?? 0) + 1)
        for (n, k) in first.enumerated() {
            let rangeFD = n == 0 ? fd : open(path, O_RDONLY | O_CLOEXEC)
            guard rangeFD >= 0 else { throw preparation.failure(file.pluginName, "\(SystemError.lastErrno("open \(path)"))") }
            let reader = (preparation.nextReader + n) % workerCount
            var source = FileSource(path: path, fd: rangeFD, pipeline: preparation.slot, target: reader, follow: false, isStdin: false,
                                    pollIntervalMicros: file.pollIntervalMicros, readBytes: preparation.settings.readBufferBytes,
                                    owner: reader, index: try nextIndex(assignments[reader], preparation),
                                    maxEventBytes: preparation.settings.pool.maxEventSizeBytes,
                                    startOffset: bounds[k], inode: inode, device: device)
            source.endOffset = bounds[k + 1]
            source.ranges = ranges
            source.framer.inputRow = preparation.inputRow
            assignments[reader].inputs.file.files.append(source)
        }
        preparation.nextReader += workerCount
    }

    /// The index the next file source of this worker gets (12 bits of the source id).
    static func nextIndex(_ assignment: WorkerAssignment, _ preparation: InputPreparation) throws(Node.SetupError) -> Int {
        let i = assignment.inputs.file.files.count
        let limit = preparation.settings.maxFileSources
        if i >= limit {
            throw Node.SetupError(description: "more than \(limit * preparation.workerCount) files for \(preparation.workerCount) worker(s) (--max-file-sources \(limit)); narrow the globs or add workers")
        }
        return i
    }

    /// The offset just after the first newline at or after `offset` (or `size`).
    static func lineStart(fd: Int32, near offset: UInt64, size: UInt64) -> UInt64 {
        var position = offset
        var buffer = [UInt8](repeating: 0, count: 65536)
        while position < size {
            let n = buffer.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, off_t(position)) }
            if n <= 0 { return size }
            if let i = buffer[0..<n].firstIndex(of: 10) { return position + UInt64(i) + 1 }
            position += UInt64(n)
        }
        return size
    }
}
