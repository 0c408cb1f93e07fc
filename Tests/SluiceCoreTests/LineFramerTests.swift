import Testing

@testable import SluiceCore

private func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }

/// `count` printable bytes (no newline), varied so a misplaced copy shows.
private func longRecord(_ count: Int) -> [UInt8] { (0..<count).map { UInt8(65 + $0 % 26) } }

@Suite struct LineFramerTests {
    // MARK: - Chunk boundaries

    private static let input = bytes("alpha\nbeta\n\ngamma\n")
    private static let expected = [FramedRecord("alpha", offset: 6), FramedRecord("beta", offset: 11), FramedRecord("gamma", offset: 18)]

    @Test func recordsSurviveASplitAtEveryPosition() throws {
        let pool = try makePool()
        for split in 0...Self.input.count {
            let framing = Framing(pool: pool)
            framing.feed(Self.input, splitAt: [split])
            framing.drain()
            #expect(framing.records == Self.expected, "split at \(split)")
            #expect(framing.count(.emptyLines) == 1, "split at \(split)")
            #expect(framing.slabIsWhole, "split at \(split)")
        }
    }

    @Test func recordsSurviveEveryPairOfSplits() throws {
        let pool = try makePool()
        for first in 0...Self.input.count {
            for second in first...Self.input.count {
                let framing = Framing(pool: pool)
                framing.feed(Self.input, splitAt: [first, second])
                framing.drain()
                #expect(framing.records == Self.expected, "splits at \(first), \(second)")
                #expect(framing.count(.emptyLines) == 1)
                #expect(framing.slabIsWhole)
            }
        }
    }

    @Test func recordsSurviveOneByteChunks() throws {
        let framing = Framing(pool: try makePool())
        framing.feed(Self.input, chunkSize: 1)
        framing.drain()
        #expect(framing.records == Self.expected)
        #expect(framing.count(.eventsIn) == 3)
        #expect(framing.count(.bytesIn) == 14)
    }

    // MARK: - Empty and partial records

    @Test func emptyLinesAreCountedNotEmitted() throws {
        let framing = Framing(pool: try makePool())
        framing.feed(bytes("\n\n\na\n\n"), chunkSize: 100)
        framing.drain()
        #expect(framing.records == [FramedRecord("a", offset: 5)])
        #expect(framing.count(.emptyLines) == 4)
        #expect(framing.count(.eventsIn) == 1)
        #expect(framing.slabIsWhole)
    }

    @Test func finishEmitsTheLastRecordWithoutNewlineAsPartial() throws {
        let framing = Framing(pool: try makePool())
        framing.feed(bytes("one\ntw"), splitAt: [])
        framing.feed(bytes("o")[...], at: 6)
        framing.drain()
        #expect(framing.records == [FramedRecord("one", offset: 4)])
        framing.finish(at: 7)
        #expect(framing.records == [FramedRecord("one", offset: 4), FramedRecord("two", flags: EventFlags.partial, offset: 7)])
        #expect(framing.count(.partialRecords) == 1)
        #expect(framing.count(.emptyLines) == 0)
        #expect(framing.slabIsWhole)
    }

    @Test func finishWithNothingPendingEmitsNothing() throws {
        let framing = Framing(pool: try makePool())
        framing.feed(bytes("a\n"), splitAt: [])
        framing.finish(at: 2)
        #expect(framing.records == [FramedRecord("a", offset: 2)])
        #expect(framing.count(.partialRecords) == 0)
        #expect(framing.count(.emptyLines) == 0)
    }

    @Test func finishWaitsForRoomInAFullBatch() throws {
        let pool = try makePool()
        let framing = Framing(pool: pool, batchCapacity: 1)
        framing.feed(bytes("a\nb"), splitAt: [])
        #expect(framing.framer.current != nil)
        let filler = makeEvent("filler", in: pool)
        framing.batch.append(filler.header.pointee.handle)
        #expect(framing.framer.finish(offset: 3, nowNanos: 0, batch: &framing.batch, counters: framing.counters) == .batchFull)
        #expect(framing.framer.current != nil, "a refused finish keeps the record")
        framing.drain()
        #expect(framing.framer.finish(offset: 3, nowNanos: 0, batch: &framing.batch, counters: framing.counters) == .done)
        framing.drain()
        #expect(framing.records == [FramedRecord("a", offset: 2), FramedRecord("filler", offset: 0), FramedRecord("b", flags: EventFlags.partial, offset: 3)])
        #expect(framing.count(.partialRecords) == 1)
    }

    @Test func abandonGivesTheRecordInProgressBack() throws {
        let framing = Framing(pool: try makePool())
        framing.feed(bytes("half a rec"), splitAt: [])
        #expect(framing.framer.current != nil)
        #expect(!framing.slabIsWhole)
        framing.framer.abandon(slab: framing.slab)
        #expect(framing.framer.current == nil)
        #expect(framing.slabIsWhole)
        framing.feed(bytes("x\n")[...], at: 0)
        framing.drain()
        #expect(framing.records == [FramedRecord("x", offset: 2)])
    }

    // MARK: - Long records

    @Test(arguments: [[], [500], [767], [768], [769], [1999], [2000], [1, 1000, 1999]])
    func aRecordLongerThanAnOrdinarySlotMovesToALargeSlot(splits: [Int]) throws {
        let pool = try makePool(eventSizeBytes: 1024, maxEventSizeBytes: 8192, largeSlots: 4)
        #expect(pool.configuration.smallDataCapacity == 768, "splits are chosen around 768 data bytes")
        let framing = Framing(pool: pool)
        let long = longRecord(2000)
        framing.feed(long + bytes("\nshort\n"), splitAt: splits)
        framing.drain()
        #expect(framing.records == [FramedRecord(long, offset: 2001), FramedRecord("short", offset: 2007)])
        #expect(EventHandles.slot(framing.handles[0]) >= pool.slabs[0].smallCount, "the long record sits in a large slot")
        #expect(EventHandles.slot(framing.handles[1]) < pool.slabs[0].smallCount, "the next record is ordinary again")
        #expect(framing.slabIsWhole, "the ordinary slot the record started in was given back")
        #expect(framing.count(.cutRecords) == 0)
    }

    @Test(arguments: [[], [767], [768], [1500], [1, 1000, 1999]])
    func aRecordThatFitsAMediumSlotTakesOneAndALongerOneMovesOnToALargeSlot(splits: [Int]) throws {
        let pool = try makePool(eventSizeBytes: 1024, maxEventSizeBytes: 8192, largeSlots: 4, mediumSlots: 4, mediumEventSizeBytes: 2048)
        let framing = Framing(pool: pool)
        let medium = longRecord(2000), long = longRecord(5000)
        framing.feed(medium + bytes("\n") + long + bytes("\nshort\n"), splitAt: splits)
        framing.drain()
        #expect(framing.records == [FramedRecord(medium, offset: 2001), FramedRecord(long, offset: 7002), FramedRecord("short", offset: 7008)])
        let slab = pool.slabs[0]
        #expect((slab.smallCount..<slab.largeFirst).contains(EventHandles.slot(framing.handles[0])), "the 2000-byte record sits in a medium slot")
        #expect(EventHandles.slot(framing.handles[1]) >= slab.largeFirst, "the 5000-byte record moved on to a large slot")
        #expect(EventHandles.slot(framing.handles[2]) < slab.smallCount)
        #expect(framing.slabIsWhole, "the slots the records passed through were given back")
        #expect(framing.count(.cutRecords) == 0)
    }

    @Test(arguments: [[], [4096], [8191], [8192], [8193], [10000], [10001], [100, 9000, 10003]])
    func aRecordLongerThanMaxEventBytesIsCutAndTheRestSkipped(splits: [Int]) throws {
        let pool = try makePool(eventSizeBytes: 1024, maxEventSizeBytes: 8192, largeSlots: 4)
        let framing = Framing(pool: pool, maxEventBytes: 8192)
        let long = longRecord(10000)
        framing.feed(long + bytes("\nnext\n"), splitAt: splits)
        framing.drain()
        #expect(framing.records == [FramedRecord(Array(long.prefix(8192)), flags: EventFlags.cut, offset: 10001), FramedRecord("next", offset: 10006)])
        #expect(framing.count(.cutRecords) == 1)
        #expect(framing.count(.cutBytes) == 10000 - 8192)
        #expect(framing.count(.eventsIn) == 2)
        #expect(!framing.framer.skipping)
        #expect(framing.slabIsWhole)
    }

    @Test func aRecordOfExactlyMaxEventBytesIsKeptWhole() throws {
        let framing = Framing(pool: try makePool(maxEventSizeBytes: 8192), maxEventBytes: 8192)
        let long = longRecord(8192)
        framing.feed(long + bytes("\n"), chunkSize: 1000)
        framing.drain()
        #expect(framing.records == [FramedRecord(long, offset: 8193)])
        #expect(framing.count(.cutRecords) == 0)
    }

    @Test func aRecordIsCutInAnOrdinarySlotWhenMaxEventBytesIsSmall() throws {
        let framing = Framing(pool: try makePool(), maxEventBytes: 10)
        framing.feed(bytes("0123456789ABCDEF\nok\n"), chunkSize: 3)
        framing.drain()
        #expect(framing.records == [FramedRecord("0123456789", flags: EventFlags.cut, offset: 17), FramedRecord("ok", offset: 20)])
        #expect(framing.count(.cutBytes) == 6)
        #expect(framing.slabIsWhole)
    }

    @Test func aCutRecordWithoutNewlineEndsCutAndPartial() throws {
        let framing = Framing(pool: try makePool(), maxEventBytes: 10)
        framing.feed(bytes("0123456789ABCDEF"), chunkSize: 5)
        framing.finish(at: 16)
        #expect(framing.records == [FramedRecord("0123456789", flags: [.cut, .partial], offset: 16)])
        #expect(!framing.framer.skipping)
    }

    // MARK: - Stops

    @Test func poolExhaustionStopsWithNothingLost() throws {
        let pool = try makePool(capacity: 4)
        let framing = Framing(pool: pool)
        let input = bytes((0..<10).map { "r\($0)\n" }.joined())
        var position = 0
        var stops: [LineFramer.Stop] = []
        while position < input.count {
            let (consumed, stop) = framing.frame(input[position...], at: UInt64(position))
            position += consumed
            stops.append(stop)
            if stop == .poolExhausted {
                #expect(pool.take() == nil, "the framer stops only when the slab is empty")
                #expect(framing.batch.count == 4)
            }
            framing.drain()
        }
        #expect(stops == [.poolExhausted, .poolExhausted, .consumedAll])
        #expect(framing.records == (0..<10).map { FramedRecord("r\($0)", offset: UInt64(3 * $0 + 3)) })
        #expect(framing.slabIsWhole)
    }

    @Test func poolExhaustionInsideARecordResumesWithTheWholeRecord() throws {
        let pool = try makePool(capacity: 4)
        let framing = Framing(pool: pool)
        let first = bytes("r0\nr1\nr2\nr3\nr4")
        let (consumed, stop) = framing.frame(first[...], at: 0)
        #expect(stop == .poolExhausted)
        #expect(consumed == 12)
        framing.drain()
        framing.feed(first[12...], at: 12)
        framing.feed(bytes("tail\n")[...], at: 14)
        framing.drain()
        #expect(framing.records.map(\.bytes) == ["r0", "r1", "r2", "r3", "r4tail"].map(bytes))
        #expect(framing.records.last?.offset == 19)
    }

    @Test func noFreeLargeSlotStopsTheRecordUntilOneComesBack() throws {
        let pool = try makePool(capacity: 64, eventSizeBytes: 1024, maxEventSizeBytes: 8192, largeSlots: 1)
        let framing = Framing(pool: pool)
        let borrowed = try #require(pool.takeLarge())
        let input = longRecord(1000) + bytes("\n")
        framing.feed(input[..<400], at: 0)
        let (consumed, stop) = framing.frame(input[400...], at: 400)
        #expect(stop == .poolExhausted)
        #expect(consumed == 0)
        pool.slabs[0].release(borrowed.header.pointee.handle)
        framing.feed(input[400...], at: 400)
        framing.drain()
        #expect(framing.records == [FramedRecord(longRecord(1000), offset: 1001)])
        #expect(framing.slabIsWhole)
    }

    @Test func aFullBatchStopsFramingUntilHandedOn() throws {
        let framing = Framing(pool: try makePool(), batchCapacity: 2)
        let input = bytes("a\nb\nc\nd\ne\n")
        var results: [(Int, LineFramer.Stop)] = []
        var position = 0
        while position < input.count {
            let (consumed, stop) = framing.frame(input[position...], at: UInt64(position))
            results.append((consumed, stop))
            position += consumed
            if stop == .batchFull { #expect(framing.batch.count == 2) }
            framing.drain()
        }
        #expect(results.map(\.0) == [4, 4, 2])
        #expect(results.map(\.1) == [.batchFull, .batchFull, .consumedAll])
        #expect(framing.records.map(\.bytes) == ["a", "b", "c", "d", "e"].map(bytes))
        #expect(framing.records.map(\.offset) == [2, 4, 6, 8, 10])
    }

    // MARK: - Content and metadata

    @Test func binaryBytesAndNULsPassThroughIntact() throws {
        let framing = Framing(pool: try makePool())
        let everyByte = (0...255).map(UInt8.init).filter { $0 != 10 }
        let lines: [[UInt8]] = [everyByte, [0], [0, 0, 13], Array(everyByte.reversed())]
        let input: [UInt8] = lines.flatMap { line -> [UInt8] in line + [10] }
        framing.feed(input, chunkSize: 7)
        framing.drain()
        #expect(framing.records.map(\.bytes) == lines)
    }

    @Test func eventsCarryTheSourceOffsetJustPastTheirNewline() throws {
        let pool = try makePool()
        let counters = CounterBlock(pipelines: 3)
        var framer = LineFramer(sourceID: 42, pipelineID: 2, maxEventBytes: 8192)
        var batch = EventBatch(capacity: 8)
        defer { batch.deallocate() }
        let chunk = bytes("first\nsecond\n")
        let (consumed, stop) = chunk.withUnsafeBytes {
            framer.frame($0, chunkOffset: 1_000_000, nowNanos: 777, slab: pool.slabs, batch: &batch, counters: counters)
        }
        #expect(consumed == chunk.count)
        #expect(stop == .consumedAll)
        #expect(batch.count == 2)
        let events = (0..<batch.count).map { pool.event(batch[$0]) }
        #expect(events.map(\.header.pointee.offset) == [1_000_006, 1_000_013])
        for event in events {
            #expect(event.header.pointee.sourceID == 42)
            #expect(event.header.pointee.pipelineID == 2)
            #expect(event.header.pointee.receivedNanos == 777)
            #expect(event.header.pointee.usedLength == event.header.pointee.rawLength)
            #expect(event.header.pointee.flags == [])
        }
        #expect(counters.read(.eventsIn, pipeline: 2) == 2)
        #expect(counters.read(.bytesIn, pipeline: 2) == 11)
        #expect(counters.read(.eventsIn, pipeline: 0) == 0)
    }

    @Test func anEmptyChunkConsumesNothing() throws {
        let framing = Framing(pool: try makePool())
        let (consumed, stop) = framing.frame(ArraySlice<UInt8>(), at: 0)
        #expect(consumed == 0)
        #expect(stop == .consumedAll)
        #expect(framing.batch.isEmpty)
    }
}

/// RFC 6587 framing (octet counting or newline, per record) and datagrams, with and without
/// the syslog decoder.
@Suite struct OctetCountingFramerTests {
    fileprivate static func framing(pool: EventPool, decode: Bool = false) -> (Framing, UnsafeMutableRawPointer?) {
        let framing = Framing(pool: pool)
        framing.framer.framing = .octetCountedOrNewline
        guard decode else { return (framing, nil) }
        let scratch = UnsafeMutableRawPointer.allocate(byteCount: pool.configuration.maxEventSizeBytes, alignment: 64)
        framing.framer.decoder = RecordDecoder(kind: .syslog(.auto), scratch: scratch)
        return (framing, scratch)
    }

    @Test func octetCountedAndNewlineRecordsMixAndSurviveEverySplit() throws {
        let input = bytes("5 hello12 with\nnewline<13>plain line\n3 abc")
        for split in 0...input.count {
            let (framing, _) = Self.framing(pool: try makePool())
            framing.feed(input, splitAt: [split])
            framing.drain()
            #expect(framing.records.map { String(decoding: $0.bytes, as: UTF8.self) } == ["hello", "with\nnewline", "<13>plain line", "abc"], "split \(split)")
            #expect(framing.records.map(\.offset) == [7, 22, 37, 42], "split \(split)")
            #expect(framing.slabIsWhole)
        }
    }

    @Test func aCountLongerThanTheDataEndsPartialAtFinish() throws {
        let (framing, _) = Self.framing(pool: try makePool())
        framing.feed(bytes("100 only a little"), splitAt: [])
        framing.finish(at: 17)
        #expect(framing.records == [FramedRecord("only a little", flags: EventFlags.partial, offset: 17)])
        #expect(framing.slabIsWhole)
    }

    @Test(arguments: ["1000000000000 x", "8193 x", "12x34 y"])
    func aCountOverMaxEventSizeOrNotANumberIsMalformed(_ text: String) throws {
        let (framing, _) = Self.framing(pool: try makePool(maxEventSizeBytes: 8192))
        let input = bytes("2 ok" + text)
        let (consumed, stop) = framing.frame(input[...], at: 0)
        #expect(stop == .malformed)
        #expect(consumed <= input.count)
        framing.drain()
        #expect(framing.records.map { String(decoding: $0.bytes, as: UTF8.self) } == ["ok"])
        framing.framer.abandon(slab: framing.slab)
        #expect(framing.slabIsWhole)
    }

    @Test func decodedRecordsBecomeSyslogJSONAndOutgrowIntoALargeSlot() throws {
        let (framing, scratch) = Self.framing(pool: try makePool(eventSizeBytes: 1024, maxEventSizeBytes: 8192), decode: true)
        defer { scratch?.deallocate() }
        // 800 control bytes escape to 4800: more than an ordinary slot, less than a large one.
        let big = Array("<13>1 - h a p m - ".utf8) + [UInt8](repeating: 1, count: 800)
        let input = bytes("\(big.count) ") + big + bytes("<14>Jan  2 03:04:05 host tag: newline framed\n")
        framing.feed(input, splitAt: [3, 500])
        framing.drain()
        #expect(framing.records.count == 2)
        let first = String(decoding: framing.records[0].bytes, as: UTF8.self)
        #expect(first.hasPrefix(#"{"timestamp":null,"hostname":"h","app_name":"a""#))
        #expect(first.utf8.count > 4800)
        let second = String(decoding: framing.records[1].bytes, as: UTF8.self)
        #expect(second.contains(#""hostname":"host","app_name":"tag""#) && second.hasSuffix(#""message":"newline framed"}"#), "\(second)")
        #expect(framing.count(.bytesIn) == UInt64(big.count + 44))
        #expect(framing.count(.syslogParseErrors) == 0)
        #expect(framing.slabIsWhole)
    }

    @Test func aDecodedRecordTooLargeForAnySlotIsCutWithParseError() throws {
        let (framing, scratch) = Self.framing(pool: try makePool(eventSizeBytes: 1024, maxEventSizeBytes: 4096), decode: true)
        defer { scratch?.deallocate() }
        let big = Array("<13>1 - h a p m - ".utf8) + [UInt8](repeating: 2, count: 3000)
        framing.feed(bytes("\(big.count) ") + big, splitAt: [])
        framing.drain()
        #expect(framing.records.count == 1)
        #expect(framing.records.first.map { $0.flags.contains(.cut) } == true)
        let text = String(decoding: framing.records[0].bytes, as: UTF8.self)
        #expect(text.hasSuffix(#","parse_error":"too large for max-event-size"}"#), "\(text.suffix(80))")
        #expect(framing.count(.syslogParseErrors) == 1)
        #expect(framing.slabIsWhole)
    }

    @Test func aDatagramIsOneRecordWithoutItsTrailingNewline() throws {
        let framing = Framing(pool: try makePool())
        for (i, text) in ["one\n", "two\r\n", "three", "", "multi\nline\n"].enumerated() {
            let input = bytes(text)
            let stop = input.withUnsafeBytes {
                framing.framer.frameDatagram($0, offset: UInt64(i + 1), nowNanos: 0, slab: framing.slab, batch: &framing.batch, counters: framing.counters)
            }
            #expect(stop == .consumedAll)
        }
        framing.drain()
        #expect(framing.records == [FramedRecord("one", offset: 1), FramedRecord("two", offset: 2), FramedRecord("three", offset: 3), FramedRecord("multi\nline", offset: 5)])
        #expect(framing.count(.emptyLines) == 1)
        #expect(framing.slabIsWhole)
    }
}
