import Glibc

extension Worker {
    /// Lets every input frame what arrived and issue new reads. A source that finds no free
    /// event stops where it is (backpressure: no new reads or receive buffers for it until
    /// events come back), and `poolExhausted` is set; the other sources are still served in
    /// this turn. They may need no new event: a source holding a half-read long record in a
    /// large slot only needs its next bytes, and stopping every source at the first one that
    /// waits for a large slot would leave those records, and the large slots, held forever.
    func runInputs() -> Bool {
        if poolExhausted {
            // Retry only when something was released since (takeBackReleased / local releases).
            if slab.pointee.freeSmallCount == 0 { return false }
            poolExhausted = false
        }
        var progressed = false
        var i = 0
        while i < activeFiles.count {
            let f = activeFiles[i]
            progressed = serviceFile(f) || progressed
            if i < activeFiles.count && activeFiles[i] == f { i += 1 }  // else it finished and left the list
        }
        if readyCount > 0 || buffersRecycled {
            progressed = serviceConnections() || progressed
        }
        for g in generators.indices where !generators[g].finished {
            progressed = serviceGenerator(g) || progressed
        }
        return progressed
    }

    /// SIGTERM/SIGINT or all inputs done: stop reading. Files drop a half-read record (it is
    /// read again from the committed offset); stdin delivers it flagged partial. Listeners close
    /// at once, but open connections are read until they fall quiet (`stopQuietNanos`) or the
    /// peer closes, so what senders already wrote is not lost; their last partial line is
    /// delivered flagged. With `pipeline`, only that pipeline's inputs stop (a reload), and its
    /// followed globs are no longer expanded.
    func stopInputs(pipeline: Int? = nil) {
        func ours(_ p: Int) -> Bool { pipeline.map { $0 == p } ?? true }
        for f in activeFiles where ours(files[f].pipeline) { finishFile(f, emitPartial: files[f].isStdin) }
        for l in listeners.indices where ours(listeners[l].pipeline) && listeners[l].fd >= 0 { closeListener(l) }
        if pipeline != nil { globWatches.removeAll { ours($0.pipeline) } }
        for g in generators.indices where ours(generators[g].pipeline) { generators[g].finished = true }
        idleCheckAtNanos = 0
    }

    func closeListener(_ l: Int) {
        if listeners[l].armed { ring.cancel(target: userData(.accept, l), userData: userData(.cancel, 0)) }
        acceptBacklog(l)
        ring.close(fd: listeners[l].fd, userData: userData(.close, 0))
        listeners[l].fd = -1
    }

    /// Adds a file source (a file found by a rescan, or started by a reload).
    func addFile(_ source: FileSource) {
        activeFiles.append(files.count)
        files.append(source)
        watchFile(files.count - 1)
    }

    /// Hands on the record a stream's framer holds without its newline, flagged partial (end of
    /// a file, a closed connection, stdin at stop).
    func deliverPartial(_ framer: inout LineFramer, offset: UInt64, to target: Int) {
        while !framer.finish(offset: offset, nowNanos: now, batch: &inputBatch, counters: counters) {
            dispatchInputBatch(to: target)
        }
        dispatchInputBatch(to: target)
    }

    func inputsFinished() -> Bool {
        if !activeFiles.isEmpty { return false }
        for g in generators.indices where !generators[g].finished { return false }
        if !stopping && listeners.contains(where: { $0.fd >= 0 }) { return false }
        // A followed path or glob is watched for files that appear later, even when none
        // exists yet.
        if !stopping && !globWatches.isEmpty { return false }
        if activeConnections > 0 { return false }
        return true
    }
}
