import Testing

@testable import SluiceCore

/// A framed record copied out of its event.
struct FramedRecord: Equatable, CustomStringConvertible {
    var bytes: [UInt8]
    var flags: EventFlags
    var offset: UInt64

    init(_ bytes: [UInt8], flags: EventFlags = [], offset: UInt64) {
        self.bytes = bytes
        self.flags = flags
        self.offset = offset
    }

    init(_ text: String, flags: EventFlags = [], offset: UInt64) { self.init(Array(text.utf8), flags: flags, offset: offset) }

    var description: String { "\(String(decoding: bytes, as: UTF8.self).prefix(40))(\(bytes.count) B, flags \(flags), offset \(offset))" }
}

/// One stream being framed into a pool: frames chunks, hands full batches on (copying the
/// records out and releasing their events), and checks that nothing leaks from the slab.
final class Framing {
    let pool: EventPool
    var framer: LineFramer
    var batch: EventBatch
    let counters = CounterBlock(pipelines: 1)
    var records: [FramedRecord] = []
    /// Handles of every record emitted, in order (they are released on drain).
    var handles: [EventHandle] = []

    init(pool: EventPool, maxEventBytes: Int? = nil, batchCapacity: Int = 64) {
        self.pool = pool
        framer = LineFramer(sourceID: 1, pipelineID: 0, maxEventBytes: maxEventBytes ?? pool.configuration.maxEventSizeBytes)
        batch = EventBatch(capacity: batchCapacity)
    }

    deinit { batch.deallocate() }

    var slab: UnsafeMutablePointer<Slab> { pool.slabs }

    /// One call of the framer on `chunk`.
    func frame(_ chunk: ArraySlice<UInt8>, at offset: UInt64, now: UInt64 = 0) -> (consumed: Int, stop: LineFramer.Stop) {
        chunk.withUnsafeBytes { bytes in
            framer.frame(bytes, chunkOffset: offset, nowNanos: now, slab: slab, batch: &batch, counters: counters)
        }
    }

    /// Frames all of `chunk`, handing on full batches; pool exhaustion fails the test.
    func feed(_ chunk: ArraySlice<UInt8>, at offset: UInt64) {
        var position = chunk.startIndex
        while true {
            let (consumed, stop) = frame(chunk[position...], at: offset + UInt64(position - chunk.startIndex))
            position += consumed
            switch stop {
            case .consumedAll:
                #expect(position == chunk.endIndex)
                return
            case .batchFull: drain()
            case .poolExhausted:
                Issue.record("pool exhausted at byte \(position) of a chunk")
                return
            case .malformed:
                Issue.record("malformed framing at byte \(position) of a chunk")
                return
            }
        }
    }

    /// Cuts `input` at `splits` and feeds the pieces in order.
    func feed(_ input: [UInt8], splitAt splits: [Int]) {
        var start = 0
        for end in splits + [input.count] {
            feed(input[start..<end], at: UInt64(start))
            start = end
        }
    }

    func feed(_ input: [UInt8], chunkSize: Int) {
        feed(input, splitAt: Array(stride(from: chunkSize, to: input.count, by: chunkSize)))
    }

    /// Ends the stream (`endOfSource`: also what the decoder still assembles), handing on full batches.
    func finish(at offset: UInt64, endOfSource: Bool = false) {
        while true {
            switch framer.finish(offset: offset, nowNanos: 0, slab: slab, batch: &batch, counters: counters, endOfSource: endOfSource) {
            case .done:
                drain()
                return
            case .batchFull: drain()
            case .poolExhausted:
                Issue.record("pool exhausted at the end of the stream")
                return
            }
        }
    }

    /// Copies the batch's records out and gives their events back to the pool.
    func drain() {
        for i in 0..<batch.count {
            let event = pool.event(batch[i])
            records.append(FramedRecord(Array(event.raw), flags: event.header.pointee.flags, offset: event.header.pointee.offset))
            handles.append(batch[i])
            slab.pointee.release(batch[i])
        }
        batch.count = 0
    }

    func count(_ counter: Counter) -> UInt64 { counters.read(counter, pipeline: 0) }

    /// Nothing taken from the slab is left over (the framer holds no record in progress).
    var slabIsWhole: Bool { slab.pointee.takenCount == 0 }
}
