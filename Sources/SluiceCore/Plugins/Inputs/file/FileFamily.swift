import CSupport
import Glibc

/// The file family on one worker: its file and stdin sources, the inotify descriptor that
/// wakes followed files, and the followed inputs it expands again for files that appear later.
final class FileFamily: SourceFamily {
    struct Assignment: SourceAssignment {
        var files: [FileSource] = []
        /// Followed file inputs this worker expands again for files that appear later.
        var globWatches: [GlobWatch] = []

        mutating func merge(_ other: Assignment) {
            files += other.files
            globWatches += other.globWatches
        }

        func closeAll() {
            for f in files {
                if f.fd > 2 { Glibc.close(f.fd) }
                for s in f.successors { Glibc.close(s.fd) }
            }
        }
    }

    /// The worker this family runs on (its index is in the source ids).
    let worker: Int
    let readBufferBytes: Int
    let maxEventBytes: Int
    /// Entries `files` may have (`--max-file-sources`).
    let maxFileSources: Int
    var files: [FileSource]
    /// Finished and closed files whose entries are reused once their events all came back.
    var retiredFiles: [Int] = []
    /// Indices of the files not finished, in order: the loops walk these, not every source a
    /// worker ever had (finished ones stay in `files`, their indices are in source ids).
    var activeFiles: [Int]
    var notify = FileNotify()
    var globWatches: [GlobWatch]
    /// Where decoders write an event before it goes into its slot (`maxEventBytes`), made when
    /// the first file that decodes its lines arrives; shared by this worker's files.
    var decodeScratch: UnsafeMutableRawPointer?

    init(worker: Int, settings: NodeSettings, assignment: Assignment) {
        self.worker = worker
        readBufferBytes = settings.readBufferBytes
        maxEventBytes = settings.pool.maxEventSizeBytes
        maxFileSources = settings.maxFileSources
        files = assignment.files
        activeFiles = Array(files.indices)
        globWatches = assignment.globWatches
        for f in files.indices { attachDecoder(f) }
    }

    /// Gives a file that decodes its lines (`decoding`) its decoder, with this worker's scratch.
    func attachDecoder(_ f: Int) {
        guard files[f].decoding != .none, files[f].framer.decoder.kind == .none else { return }
        if decodeScratch == nil { decodeScratch = .allocate(byteCount: maxEventBytes, alignment: 64) }
        files[f].framer.decoder = RecordDecoder.forSource(files[f].decoding, path: files[f].path, startOffset: files[f].expectedOffset,
                                                          maxEventBytes: maxEventBytes, scratch: decodeScratch!)
    }

    func start(_ context: InputContext) {
        for f in activeFiles {
            nameSource(f, context)
            watchFile(f, context)
        }
    }

    /// Publishes file `f`'s path for actions that name an event's file (`add_file_name`),
    /// before any of its events is handed on; stdin has no name.
    func nameSource(_ f: Int, _ context: InputContext) {
        context.sourceNames.set(f, path: files[f].isStdin ? nil : files[f].path)
    }

    func maintain(_ context: InputContext) {
        if !globWatches.isEmpty && !context.stopping { scanGlobs(context) }
        // Followed files being read: the backstop of the directory watch for rotations.
        if !context.stopping {
            for f in activeFiles where files[f].maxRotated > 0 && !files[f].waitingForData && context.now >= files[f].nextPathCheckNanos {
                lookAtPath(f, context)
            }
            for f in activeFiles where files[f].partialTimeoutNanos > 0 && files[f].waitingForData { flushLatePending(f, context) }
        }
    }

    /// A file read to its end whose decoder holds a record whose rest has not come for
    /// `partial-timeout` (a CRI `P` line without its `F`, a Docker line without its `\n`): the
    /// record is handed on as it is, with `"partial":true`, so it is never held forever. Lines
    /// that come later are records of their own.
    func flushLatePending(_ f: Int, _ context: InputContext) {
        let timeout = files[f].partialTimeoutNanos
        guard context.now > timeout, files[f].framer.decoder.hasPending(updatedBy: context.now - timeout) else { return }
        if !context.flushLatePending(&files[f].framer, updatedBy: context.now - timeout, to: files[f].target) {
            context.waitForFreeEvents()  // no free event now: the next turn tries again
        }
    }

    func service(_ context: InputContext) -> Bool {
        var progressed = false
        var i = 0
        while i < activeFiles.count {
            let f = activeFiles[i]
            progressed = serviceFile(f, context) || progressed
            if i < activeFiles.count && activeFiles[i] == f { i += 1 }  // else it finished and left the list
        }
        return progressed
    }

    static let kind = SourceIDs.Kind.file
    /// A read of one file (`a`: the file, `b`: its read slot); the inotify read.
    enum Completion: UInt8 { case read, notify }

    func complete(_ kind: Completion, _ a: Int, _ b: Int, result: Int32, flags: UInt32, _ context: InputContext) {
        switch kind {
        case .read: readCompleted(file: a, slot: b, result: result)
        case .notify: notifyCompleted(result: result, context)
        }
    }

    /// Files drop a half-read record (it is read again from the committed offset); stdin
    /// delivers it flagged partial. A reload's pipeline no longer has its globs expanded.
    func stop(pipeline: Int?, _ context: InputContext) {
        func ours(_ p: Int) -> Bool { pipeline.map { $0 == p } ?? true }
        for f in activeFiles where ours(files[f].pipeline) { finishFile(f, emitPartial: files[f].isStdin, context) }
        if pipeline != nil { globWatches.removeAll { ours($0.pipeline) } }
    }

    func isQuiet(pipeline slot: Int) -> Bool {
        !activeFiles.contains { files[$0].pipeline == slot }
    }

    func isFinished(stopping: Bool) -> Bool {
        // A followed path or glob is watched for files that appear later, even when none
        // exists yet.
        activeFiles.isEmpty && (stopping || globWatches.isEmpty)
    }

    func deadline(before deadline: UInt64, now: UInt64) -> UInt64 {
        var earliest = deadline
        for f in activeFiles where files[f].waitingForData {
            earliest = min(earliest, files[f].eofSince + files[f].pollIntervalNanos)
        }
        return earliest
    }

    func install(_ assignment: Assignment, _ context: InputContext) {
        for var source in assignment.files where !addFile(source, context) {
            Glibc.close(source.fd)
            source.releaseBuffers()
        }
        globWatches += assignment.globWatches
    }

    /// Closes and frees the finished file sources of a replaced pipeline that have no read in
    /// flight (the others are closed at exit).
    func retire(pipeline slot: Int) {
        for f in files.indices where files[f].pipeline == slot && files[f].finished && files[f].readsInFlight == 0 && files[f].fd >= 0 {
            if !files[f].isStdin { Glibc.close(files[f].fd) }
            files[f].fd = -1
            files[f].releaseBuffers()
            retiredFiles.append(f)
        }
    }

    /// A file is named by its device and inode (what the offsets file keeps, so a line read
    /// again after a restart has the same identity); stdin has none.
    func identity(of event: Event) -> UInt64? {
        let id = event.header.pointee.sourceID
        let f = SourceIDs.index(id)
        guard f < files.count, !files[f].isStdin, files[f].generation & 0xFF == SourceIDs.generation(id) else { return nil }
        return withUnsafeBytes(of: (files[f].device, files[f].inode)) { XXHash64.hash($0) }
    }

    func close() {
        for f in files.indices where files[f].fd >= 0 && !files[f].isStdin { Glibc.close(files[f].fd) }
        for f in files.indices {
            for s in files[f].successors { Glibc.close(s.fd) }
            files[f].framer.decoder.dispose()
            files[f].framer.decoder = .none
        }
        if notify.fd >= 0 { Glibc.close(notify.fd) }
        decodeScratch?.deallocate()
        decodeScratch = nil
    }

    /// Adds a file source (a file found by a rescan, or started by a reload) at the entry
    /// `takeSlot` gives; false (logged, counted) when every entry is in use.
    func addFile(_ source: FileSource, _ context: InputContext) -> Bool {
        guard let f = takeSlot(context) else {
            Log.error("input \(source.decoding == .none ? "file" : "k8s")",
                      "cannot read \(source.path): this worker already has \(maxFileSources) file sources (--max-file-sources)")
            context.counters.add(.inputErrors, 1, pipeline: source.pipeline)
            return false
        }
        var placed = source
        placed.place(at: f, generation: f < files.count ? files[f].generation + 1 : 0)
        if f < files.count {
            files[f].slots.deallocate()  // the empty table `releaseBuffers` left
            files[f] = placed
        } else {
            files.append(placed)
        }
        activeFiles.append(f)
        attachDecoder(f)
        nameSource(f, context)
        watchFile(f, context)
        return true
    }

    /// The entry for a new file source: one a finished file left once all of its events came
    /// back (its offsets entry dropped: the file is gone), else a new one below
    /// `--max-file-sources`; nil when every entry is in use.
    func takeSlot(_ context: InputContext) -> Int? {
        if let i = retiredFiles.firstIndex(where: { files[$0].drained }) {
            let f = retiredFiles[i]
            retiredFiles[i] = retiredFiles[retiredFiles.count - 1]
            retiredFiles.removeLast()
            if files[f].deleted, let words = files[f].commitWords { context.offsetBook.forget(words) }
            return f
        }
        return files.count < maxFileSources ? files.count : nil
    }
}
