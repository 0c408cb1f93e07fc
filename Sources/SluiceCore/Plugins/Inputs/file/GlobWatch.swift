import Glibc

/// A followed file input whose paths are expanded again every `intervalNanos`, so files that
/// appear after start (a new log under a glob, a path created later) are read too, from their
/// start. One worker owns each watch and reads the files it finds; their streams are processed
/// by the workers in turn.
struct GlobWatch {
    let pipeline: Int
    let input: FileInput
    /// The input's per-plugin counter row (files found later count there too).
    var inputRow: Int32 = 0
    var known: Set<String>
    let intervalNanos: UInt64
    var nextScanNanos: UInt64 = 0
    var nextProcessor = 0
    /// Paths whose file was deleted and closed since the last scan: a file created under the
    /// same name later is a new one, read from its start.
    let deletedPaths: DeletedPaths
}

/// The paths of a followed input whose files were deleted and closed, handed from the worker
/// that read each (any worker) to the one that rescans the input's paths. Touched once per
/// deleted file and once per rescan, never per event.
final class DeletedPaths: @unchecked Sendable {
    private var lock = pthread_mutex_t()
    private var paths: [String] = []

    init() { pthread_mutex_init(&lock, nil) }
    deinit { pthread_mutex_destroy(&lock) }

    func add(_ path: String) {
        pthread_mutex_lock(&lock)
        paths.append(path)
        pthread_mutex_unlock(&lock)
    }

    /// The paths added since the last call.
    func take() -> [String] {
        pthread_mutex_lock(&lock)
        defer { pthread_mutex_unlock(&lock) }
        guard !paths.isEmpty else { return [] }
        let taken = paths
        paths.removeAll()
        return taken
    }
}

extension FileFamily {
    func scanGlobs(_ context: InputContext) {
        let now = context.now
        for g in globWatches.indices where now >= globWatches[g].nextScanNanos {
            globWatches[g].nextScanNanos = now + globWatches[g].intervalNanos
            for path in globWatches[g].deletedPaths.take() { globWatches[g].known.remove(path) }
            guard let paths = try? globWatches[g].input.expand() else { continue }
            for path in paths where !globWatches[g].known.contains(path) {
                let fd = open(path, O_RDONLY | O_CLOEXEC)
                guard fd >= 0 else { continue }  // gone again, or not readable yet: next scan
                globWatches[g].known.insert(path)
                var st = stat()
                fstat(fd, &st)
                let input = globWatches[g].input
                let pipeline = globWatches[g].pipeline
                let words = input.offsetsPath.map {
                    context.offsetBook.add(path: path, storePath: $0, pipeline: pipeline, offset: 0, inode: UInt64(st.st_ino), device: UInt64(st.st_dev))
                }
                let target = globWatches[g].nextProcessor % context.workerCount
                globWatches[g].nextProcessor += 1
                var source = FileSource(path: path, fd: fd, pipeline: pipeline, target: target, follow: true, isStdin: false,
                                        pollIntervalMicros: input.pollIntervalMicros, readBytes: readBufferBytes,
                                        owner: worker, index: 0, maxEventBytes: maxEventBytes,
                                        inode: UInt64(st.st_ino), device: UInt64(st.st_dev), commitWords: words,
                                        inputRow: globWatches[g].inputRow, maxRotated: input.maxRotated)
                source.adopt(input, deletedPaths: globWatches[g].deletedPaths)
                guard addFile(source, context) else {
                    // Every entry is in use: tried again at the next rescan (the node goes on).
                    Glibc.close(fd)
                    source.releaseBuffers()
                    globWatches[g].known.remove(path)
                    if let words { context.offsetBook.forget(words) }
                    continue
                }
                Log.info("input \(input.pluginName)", "following \(path), which appeared after start")
            }
        }
    }
}
