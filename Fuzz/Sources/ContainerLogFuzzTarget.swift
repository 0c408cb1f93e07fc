import SluiceCore

/// The framer with the container log decoder (the `k8s` input's), reached through the `framer`
/// target when bit 7 of the input's first byte is set: one stream of lines (CRI, Docker JSON or
/// anything) cut into chunks at arbitrary points, a small pool that runs dry, batches that fill,
/// events held a while as a busy output would, the stream ended as a source ends. Checked: every
/// event is a JSON object (whatever the bytes: malformed lines, control bytes, bad UTF-8, cut
/// records) no larger than its limit; offsets never decrease and never pass the stream; every
/// event counted; no event leaks, and no partial line keeps a slot.
enum ContainerLogFuzzTarget {
    /// Large enough for every record's fixed parts and metadata: below that a line is kept as it
    /// came (not JSON), which the unit tests cover.
    static let maxEventBytesChoices = [700, 1200, 3000, 1 << 20]
    static let path = "/var/log/containers/web-1.a_ns-x_app-0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef.log"

    static func run(_ input: UnsafeRawBufferPointer, pool: EventPool, counters: CounterBlock) {
        let maxEventBytes = maxEventBytesChoices[Int(input[0] >> 1) & 3]
        let batchCapacity = Int(input[0] >> 4) & 7 + 1
        var seed: UInt64 = 0
        for i in 1...8 { seed = seed << 8 | UInt64(input[i]) }
        var random = SplitMix(state: seed)
        let stream = UnsafeRawBufferPointer(rebasing: input[9...])

        let slab = pool.slabs
        precondition(slab.pointee.takenCount == 0, "a previous input leaked events")
        let eventsBefore = counters.read(.eventsIn, pipeline: 0)
        var batch = EventBatch(capacity: batchCapacity)
        defer { batch.deallocate() }
        let scratch = UnsafeMutableRawPointer.allocate(byteCount: maxEventBytes, alignment: 64)
        defer { scratch.deallocate() }
        var framer = LineFramer(sourceID: 7, pipelineID: 0, maxEventBytes: maxEventBytes)
        framer.decoder = RecordDecoder.forSource(.containerLog, path: path, startOffset: 0, maxEventBytes: maxEventBytes, scratch: scratch)
        defer { framer.decoder.dispose() }
        let limit = min(maxEventBytes, pool.configuration.largeSlots > 0 ? pool.configuration.maxEventSizeBytes : pool.configuration.smallDataCapacity)
        var events = 0
        var lastOffset: UInt64 = 0
        var held: [EventHandle] = []
        var holdLimit = Int(random.next() % 40)
        let fields = UnsafeMutablePointer<FieldEntry>.allocate(capacity: 64)
        defer { fields.deallocate() }

        func releaseHeld() {
            for handle in held { slab.pointee.release(handle) }
            held.removeAll()
        }
        func drainBatch() {
            for i in 0..<batch.count {
                let event = slab.pointee.event(batch[i])
                let header = event.header.pointee
                let raw = event.raw
                precondition(raw.count <= limit, "an event of \(raw.count) B over its limit \(limit)")
                guard case .valid = JSONScanner.scan(raw, fields: fields, fieldCapacity: 64), raw.first == UInt8(ascii: "{") else {
                    preconditionFailure("an event that is not a JSON object: \(String(decoding: raw.prefix(200), as: UTF8.self))")
                }
                precondition(header.offset >= lastOffset && header.offset <= UInt64(stream.count),
                             "offset \(header.offset) after \(lastOffset), stream of \(stream.count) B")
                lastOffset = header.offset
                events += 1
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
                position += consumed
                switch stop {
                case .consumedAll: precondition(position == chunkEnd, "consumedAll with bytes left")
                case .batchFull: drainBatch()
                case .poolExhausted:
                    precondition(!(batch.isEmpty && held.isEmpty), "pool exhausted with every event back: the framer can never progress")
                    drainBatch()
                    releaseHeld()
                case .malformed: preconditionFailure("newline framing is never malformed")
                }
            }
        }
        while true {
            switch framer.finish(offset: UInt64(stream.count), nowNanos: 1, slab: slab, batch: &batch, counters: counters, endOfSource: true) {
            case .done:
                drainBatch()
                releaseHeld()
                precondition(slab.pointee.takenCount == 0, "\(slab.pointee.takenCount) event(s) leaked")
                precondition(Int(counters.read(.eventsIn, pipeline: 0) &- eventsBefore) == events, "events_in \(events) events")
                return
            case .batchFull:
                drainBatch()
            case .poolExhausted:
                precondition(!(batch.isEmpty && held.isEmpty), "a pending record can never get a slot")
                drainBatch()
                releaseHeld()
            }
        }
    }
}
