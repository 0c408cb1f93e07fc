/// Turning container log lines into JSON events: each line the framer completes is parsed,
/// folded into its stream's pending record (partial lines) or written as the event of its
/// record, in `scratch` first and then into the slot that fits it.
extension ContainerLogState {
    /// Decodes the line framed in `e` (ending at `end`). `.folded`: a partial line, its slot
    /// released; `.needsRoom` (only with `mayWait`): the event needs a large slot and none is
    /// free, nothing changed (`e` still holds the line).
    mutating func decode(_ e: Event, end: UInt64, nowNanos: UInt64, mayWait: Bool, scratch: UnsafeMutableRawPointer,
                         slab: UnsafeMutablePointer<Slab>, counters: CounterBlock, pipeline: Int) -> RecordDecoder.Outcome {
        let raw = e.raw
        let line: ContainerLogLine
        switch ContainerLogLine.parse(raw, fields: fields) {
        case .line(let parsed): line = parsed
        case .malformed(let reason):
            return writeUnparsed(e, reason: reason, end: end, mayWait: mayWait, scratch: scratch, slab: slab, counters: counters, pipeline: pipeline)
        }
        let p = partials + line.stream.rawValue
        if p.pointee.active && p.pointee.format != line.format {
            return writeUnparsed(e, reason: "line format differs from the partial line before it", end: end, mayWait: mayWait,
                                 scratch: scratch, slab: slab, counters: counters, pipeline: pipeline)
        }
        let lineCut = e.header.pointee.flags.contains(.cut)  // by the framer (counted there)
        if line.partial {
            fold(line, raw, nowNanos: nowNanos, counters: counters, pipeline: pipeline)
            if lineCut { p.pointee.cut = true }
            slab.pointee.release(e.header.pointee.handle)
            counters.add(.partialLinesJoined, 1, pipeline: pipeline)
            lineStart = end
            return .folded
        }
        let joined = p.pointee.active
        let before = (count: p.pointee.count, cut: p.pointee.cut)
        let record: ContainerLogJSON.Record
        var dropped = 0
        if joined {
            dropped = append(UnsafeRawBufferPointer(rebasing: raw[line.log]), to: p)
            record = ContainerLogJSON.Record(time: p.pointee.time, stream: line.stream, log: p.pointee.message,
                                             escaped: line.format == .docker, cut: p.pointee.cut || lineCut)
        } else {
            record = ContainerLogJSON.Record(time: UnsafeRawBufferPointer(rebasing: raw[line.time]), stream: line.stream,
                                             log: UnsafeRawBufferPointer(rebasing: raw[line.log]), escaped: line.format == .docker, cut: lineCut)
        }
        let placed = place(e, scratch: scratch, mayWait: mayWait, slab: slab, counters: counters, pipeline: pipeline,
                           cutCounted: lineCut || (joined && p.pointee.cut)) { out, capacity in
            ContainerLogJSON.write(record, members: UnsafeRawBufferPointer(members), into: out, capacity: capacity)
        }
        guard let target = placed else {
            p.pointee.count = before.count  // the line is decoded again: as if never appended
            p.pointee.cut = before.cut
            return .needsRoom
        }
        if joined {
            countCut(dropped: dropped, newly: p.pointee.cut && !before.cut, counters: counters, pipeline: pipeline)
            release(p)
        }
        lineStart = end
        return .event(target, offset: committable(end))
    }

    mutating func writeUnparsed(_ e: Event, reason: StaticString, end: UInt64, mayWait: Bool, scratch: UnsafeMutableRawPointer,
                       slab: UnsafeMutablePointer<Slab>, counters: CounterBlock, pipeline: Int) -> RecordDecoder.Outcome {
        let raw = e.raw
        let placed = place(e, scratch: scratch, mayWait: mayWait, slab: slab, counters: counters, pipeline: pipeline,
                           cutCounted: e.header.pointee.flags.contains(.cut)) { out, capacity in
            ContainerLogJSON.writeUnparsed(raw, reason: reason, members: UnsafeRawBufferPointer(members), into: out, capacity: capacity)
        }
        guard let target = placed else { return .needsRoom }
        counters.add(.containerLogParseErrors, 1, pipeline: pipeline)
        lineStart = end
        return .event(target, offset: committable(end))
    }
}

extension ContainerLogState {
    /// Writes an event with `write` (into memory, capacity) and puts it into `e` when it fits,
    /// else into a large slot (`e` released). With no large slot free: nil when `mayWait`
    /// (nothing changed), else the event is written again cut to fit `e`. Returns the event.
    ///
    /// The event is written into `scratch` first: the line it is made of is still in `e`.
    func place(_ e: Event, scratch out: UnsafeMutableRawPointer, mayWait: Bool, slab: UnsafeMutablePointer<Slab>, counters: CounterBlock,
               pipeline: Int, cutCounted: Bool, write: (UnsafeMutableRawPointer, Int) -> ContainerLogJSON.Written) -> Event? {
        let ownCapacity = min(Int(e.header.pointee.dataCapacity), maxEventBytes)
        let largeCapacity = slab.pointee.largeCount > 0 ? min(slab.pointee.largeDataCapacity, maxEventBytes) : 0
        var written = write(out, max(ownCapacity, largeCapacity))
        var target = e
        if case .wrote(let n, _) = written, n > ownCapacity {
            if largeCapacity > ownCapacity {
                if let large = slab.pointee.takeLonger(dataBytes: n, forFraming: true) {
                    large.set(e.flags)
                    slab.pointee.release(e.header.pointee.handle)
                    target = large
                } else if mayWait {
                    return nil
                } else {
                    written = write(out, ownCapacity)
                }
            } else {
                written = write(out, ownCapacity)
            }
        }
        guard case .wrote(let n, let cut) = written else {
            return target  // max-event-size leaves no room for any JSON: the line stays as it came
        }
        target.data.copyMemory(from: out, byteCount: n)
        target.setRecordLength(n)
        if cut {
            if !cutCounted && !target.header.pointee.flags.contains(.cut) { counters.add(.cutRecords, 1, pipeline: pipeline) }
            target.set(.cut)
        }
        return target
    }

    /// The pending record that started first, of those whose last line was read at or before
    /// `cutoff` (the end of the source: all), as an event with `"partial":true` in a slot of its
    /// own; `.none` when no such record is pending. `end`: where the lines read so far end.
    mutating func takePending(end: UInt64, updatedBy cutoff: UInt64 = .max, scratch: UnsafeMutableRawPointer, slab: UnsafeMutablePointer<Slab>,
                              counters: CounterBlock, pipeline: Int) -> RecordDecoder.Pending {
        let first: Int
        switch (partials[0].active && partials[0].updatedNanos <= cutoff, partials[1].active && partials[1].updatedNanos <= cutoff) {
        case (false, false): return .none
        case (true, false): first = 0
        case (false, true): first = 1
        case (true, true): first = partials[0].start <= partials[1].start ? 0 : 1
        }
        guard let e = slab.pointee.take(forFraming: true) else { return .needsRoom }
        let p = partials + first
        let record = ContainerLogJSON.Record(time: p.pointee.time, stream: ContainerLogLine.Stream(rawValue: first)!, log: p.pointee.message,
                                             escaped: p.pointee.format == .docker, cut: p.pointee.cut, partial: true)
        let placed = place(e, scratch: scratch, mayWait: true, slab: slab, counters: counters, pipeline: pipeline, cutCounted: p.pointee.cut) { out, capacity in
            ContainerLogJSON.write(record, members: UnsafeRawBufferPointer(members), into: out, capacity: capacity)
        }
        guard let target = placed else {
            slab.pointee.release(e.header.pointee.handle)
            return .needsRoom
        }
        release(p)
        return .event(target, offset: committable(end))
    }
}
