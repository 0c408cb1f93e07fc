import SluiceCore

/// `LineFramer` fed one stream cut into chunks at arbitrary points, with a small pool that runs
/// dry and batches that fill, checked against a plain model of the framing rules: every
/// non-empty line becomes one record (its first `limit` bytes, flagged cut beyond that), the
/// offset just past its newline; a last line without a newline comes out flagged partial; every
/// byte is a record byte, a cut byte or a newline; no event leaks.
///
/// Input layout: byte 0 picks the pool and the limits (bit 7: the container log decoder's run,
/// `ContainerLogFuzzTarget`), bytes 1–8 seed the chunk sizes and how long records are held
/// before release, the rest is the stream.
enum FramerFuzzTarget {
    /// 1 KiB slots (about 700 data bytes after the header and 8 fields), 32 of them; with and
    /// without 2 large slots of 3000 data bytes.
    static let pools: [EventPool] = [true, false].map { withLarge in
        let configuration = PoolConfiguration(capacity: 32, eventSizeBytes: 1024, maxEventSizeBytes: 3000,
                                              largeSlots: withLarge ? 2 : 0, maxFields: 8, hugePages: false)
        do { return try EventPool(configuration, placements: [.anyNode]) } catch { fatalError("fuzz pool: \(error)") }
    }
    static let maxEventBytesChoices = [1, 2, 7, 64, 700, 3000, 5000, 1 << 20]
    /// Counter blocks live as long as a node and cannot be freed: one for every input, read as deltas.
    nonisolated(unsafe) static let counters = CounterBlock(pipelines: 1)

    struct Record: Equatable {
        var bytes: [UInt8]
        var flags: EventFlags
        var offset: UInt64
    }

    static func run(_ input: UnsafeRawBufferPointer) {
        guard input.count >= 9 else { return }
        let pool = pools[Int(input[0] & 1)]
        if input[0] & 0x80 != 0 { return ContainerLogFuzzTarget.run(input, pool: pool, counters: Self.counters) }
        let maxEventBytes = maxEventBytesChoices[Int(input[0] >> 1) & 7]
        let batchCapacity = Int(input[0] >> 4) & 7 + 1
        var seed: UInt64 = 0
        for i in 1...8 { seed = seed << 8 | UInt64(input[i]) }
        var random = SplitMix(state: seed)
        let stream = UnsafeRawBufferPointer(rebasing: input[9...])

        let slab = pool.slabs
        precondition(slab.pointee.takenCount == 0, "a previous input leaked events")
        let counters = Self.counters
        let countersBefore = Dictionary(uniqueKeysWithValues: Counter.allCases.map { ($0, counters.read($0, pipeline: 0)) })
        var batch = EventBatch(capacity: batchCapacity)
        defer { batch.deallocate() }
        var framer = LineFramer(sourceID: 7, pipelineID: 0, maxEventBytes: maxEventBytes)
        var records: [Record] = []
        var held: [EventHandle] = []
        var holdLimit = Int(random.next() % 40)

        func releaseHeld() {
            for handle in held { slab.pointee.release(handle) }
            held.removeAll()
        }
        /// Copies the batch's records out; holds their events a while, as a busy output would.
        func drainBatch() {
            for i in 0..<batch.count {
                let event = slab.pointee.event(batch[i])
                let header = event.header.pointee
                precondition(header.sourceID == 7 && header.pipelineID == 0, "record with a foreign source or pipeline")
                records.append(Record(bytes: Array(event.raw), flags: header.flags, offset: header.offset))
                held.append(batch[i])
            }
            batch.count = 0
            if held.count > holdLimit {
                releaseHeld()
                holdLimit = Int(random.next() % 40)
            }
        }

        var position = 0
        while position < stream.count {
            let chunkEnd = min(stream.count, position + 1 + Int(random.next() % (random.next() & 1 == 0 ? 16 : 4096)))
            while position < chunkEnd {
                let chunk = UnsafeRawBufferPointer(rebasing: stream[position..<chunkEnd])
                let (consumed, stop) = framer.frame(chunk, chunkOffset: UInt64(position), nowNanos: 1, slab: slab, batch: &batch, counters: counters)
                precondition(consumed >= 0 && consumed <= chunk.count, "consumed \(consumed) of a \(chunk.count)-byte chunk")
                position += consumed
                switch stop {
                case .consumedAll:
                    precondition(position == chunkEnd, "consumedAll with \(chunkEnd - position) bytes left")
                case .batchFull:
                    precondition(batch.isFull, "batchFull with room in the batch")
                    drainBatch()
                case .poolExhausted:
                    let stuck = batch.isEmpty && held.isEmpty
                    precondition(!stuck, "pool exhausted with every event back: the framer can never progress")
                    drainBatch()
                    releaseHeld()
                case .malformed:
                    preconditionFailure("newline framing is never malformed")
                }
            }
        }
        while framer.finish(offset: UInt64(stream.count), nowNanos: 1, batch: &batch, counters: counters) != .done { drainBatch() }
        drainBatch()
        precondition(framer.current == nil && !framer.skipping, "finish left a record open")
        releaseHeld()
        precondition(slab.pointee.takenCount == 0, "\(slab.pointee.takenCount) event(s) leaked")

        let limit = min(maxEventBytes, pool.configuration.largeSlots > 0 ? pool.configuration.maxEventSizeBytes : pool.configuration.smallDataCapacity)
        let expected = model(stream, limit: limit)
        precondition(records.count == expected.records.count, "\(records.count) records, the model has \(expected.records.count)")
        for (i, (got, want)) in zip(records, expected.records).enumerated() {
            precondition(got == want, "record \(i): \(got.bytes.count) B flags \(got.flags) offset \(got.offset), "
                + "the model has \(want.bytes.count) B flags \(want.flags) offset \(want.offset)")
            precondition(!got.bytes.contains(10), "record \(i) holds a newline")
            precondition(i == 0 || got.offset > records[i - 1].offset, "offsets do not increase at record \(i)")
        }
        func count(_ c: Counter) -> Int { Int(counters.read(c, pipeline: 0) &- countersBefore[c]!) }
        precondition(count(.eventsIn) == records.count, "events_in \(count(.eventsIn)) for \(records.count) records")
        precondition(count(.cutRecords) == expected.cutRecords && count(.cutBytes) == expected.cutBytes,
                     "cut \(count(.cutRecords)) records / \(count(.cutBytes)) B, the model \(expected.cutRecords) / \(expected.cutBytes)")
        precondition(count(.emptyLines) == expected.emptyLines, "empty_lines \(count(.emptyLines)), the model \(expected.emptyLines)")
        precondition(count(.partialRecords) == (expected.records.last.map { $0.flags.contains(.partial) ? 1 : 0 } ?? 0), "partial_records")
        let recordBytes = records.reduce(0) { $0 + $1.bytes.count }
        precondition(count(.bytesIn) == recordBytes, "bytes_in \(count(.bytesIn)) for \(recordBytes) record bytes")
        precondition(recordBytes + count(.cutBytes) + expected.newlines == stream.count, "bytes unaccounted for")
    }

    /// The framing rules, written plainly.
    static func model(_ stream: UnsafeRawBufferPointer, limit: Int)
        -> (records: [Record], cutRecords: Int, cutBytes: Int, emptyLines: Int, newlines: Int) {
        var records: [Record] = []
        var cutRecords = 0, cutBytes = 0, emptyLines = 0, newlines = 0
        var start = 0
        func line(_ end: Int, terminated: Bool) {
            let length = end - start
            if length == 0 {
                if terminated { emptyLines += 1 }
                return
            }
            var flags: EventFlags = terminated ? [] : .partial
            if length > limit {
                flags.insert(.cut)
                cutRecords += 1
                cutBytes += length - limit
            }
            let kept = Array(stream[start..<start + min(length, limit)])
            records.append(Record(bytes: kept, flags: flags, offset: UInt64(terminated ? end + 1 : end)))
        }
        for i in 0..<stream.count where stream[i] == 10 {
            line(i, terminated: true)
            newlines += 1
            start = i + 1
        }
        line(stream.count, terminated: false)
        return (records, cutRecords, cutBytes, emptyLines, newlines)
    }
}

/// SplitMix64: chunk sizes and hold times from the input's seed bytes.
struct SplitMix {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
