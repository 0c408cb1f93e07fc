import Testing

@testable import SluiceCore

@Suite struct EventPoolTests {
    // MARK: - Sizing

    @Test func theDefaultSizesGrowWithTheWorkersButExplicitOnesAreChecked() throws {
        let pipeline = PipelineDefinition(name: "p", inputs: [.stdin(StdinInput())], actions: [], output: .devnull(DevNullOutput()))
        var settings = NodeSettings()
        settings.workers = 100
        let node = try Node(settings: settings, pipelines: [pipeline])
        #expect(node.settings.pool.capacity == 100 * PoolConfiguration.minimumSlotsPerWorker)
        #expect(node.settings.pool.largeSlots == 100)
        settings.workers = 2
        #expect(try Node(settings: settings, pipelines: [pipeline]).settings.pool.capacity == PoolConfiguration.defaultCapacity)
        settings.workers = 100
        settings.pool.capacity = PoolConfiguration.defaultCapacity
        settings.pool.capacityIsDefault = false
        #expect(throws: Node.SetupError.self) { try Node(settings: settings, pipelines: [pipeline]) }
        settings.pool = PoolConfiguration()
        settings.pool.largeSlots = 8
        settings.pool.largeSlotsIsDefault = false
        #expect(throws: Node.SetupError.self) { try Node(settings: settings, pipelines: [pipeline]) }
    }

    // MARK: - Taking and releasing

    /// Workers write their own slab's free-list depths on every take and release: no two slabs
    /// may share a cache line (or an adjacent-line pair).
    @Test func everySlabStartsOnItsOwnCacheLinePair() throws {
        #expect(MemoryLayout<Slab>.stride % Slab.alignment == 0, "pad Slab to a multiple of \(Slab.alignment) bytes (its stride is \(MemoryLayout<Slab>.stride))")
        let pool = try makePool(workers: 3)
        for w in 0..<3 {
            #expect(Int(bitPattern: pool.slabs + w) % Slab.alignment == 0, "slab \(w)")
        }
    }

    @Test func takingEveryOrdinarySlotThenOneMoreReturnsNil() throws {
        let pool = try makePool(capacity: 128)
        var handles = Set<EventHandle>()
        for _ in 0..<128 {
            let event = try #require(pool.take())
            handles.insert(event.header.pointee.handle)
        }
        #expect(handles.count == 128)
        #expect(pool.take() == nil)
        #expect(pool.slabs[0].freeSmallCount == 0)
        #expect(pool.slabs[0].takenCount == 128)
    }

    @Test func releasingAnEventMakesItsSlotAvailableAgain() throws {
        let pool = try makePool(capacity: 64)
        var taken: [EventHandle] = []
        while let event = pool.take() { taken.append(event.header.pointee.handle) }
        #expect(taken.count == 64)
        pool.slabs[0].release(taken[17])
        #expect(pool.slabs[0].takenCount == 63)
        let again = try #require(pool.take())
        #expect(again.header.pointee.handle == taken[17])
        #expect(pool.take() == nil)
    }

    @Test func releasingEveryEventRestoresTheWholeSlab() throws {
        let pool = try makePool(capacity: 64, largeSlots: 4)
        var taken: [EventHandle] = []
        while let event = pool.take() { taken.append(event.header.pointee.handle) }
        while let event = pool.takeLarge() { taken.append(event.header.pointee.handle) }
        #expect(pool.slabs[0].takenCount == 68)
        for handle in taken.reversed() { pool.slabs[0].release(handle) }
        #expect(pool.slabs[0].takenCount == 0)
        #expect(pool.slabs[0].freeSmallCount == 64)
        #expect(pool.slabs[0].freeLargeCount == 4)
    }

    @Test func ordinarySlotsGoOutInSlotOrder() throws {
        let pool = try makePool(capacity: 64)
        let slots = (0..<4).map { _ in EventHandles.slot(pool.take()!.header.pointee.handle) }
        #expect(slots == [0, 1, 2, 3])
    }

    @Test func handlesEncodeTheSlabAndTheSlot() throws {
        let pool = try makePool(capacity: 128, workers: 2)
        let first = try #require(pool.take(slab: 1))
        let second = try #require(pool.take(slab: 1))
        #expect(first.header.pointee.handle == EventHandles.make(slab: 1, slot: 0))
        #expect(second.header.pointee.handle == EventHandles.make(slab: 1, slot: 1))
        #expect(EventHandles.slab(second.header.pointee.handle) == 1)
        #expect(EventHandles.slot(second.header.pointee.handle) == 1)
        #expect(pool.event(second.header.pointee.handle).base == second.base)
        #expect(pool.take()?.header.pointee.handle == EventHandles.make(slab: 0, slot: 0))
    }

    @Test func handlesRoundTripAtTheLimitsOfSlabAndSlot() {
        let handle = EventHandles.make(slab: EventHandles.maxSlabs, slot: EventHandles.maxSlotsPerSlab)
        #expect(EventHandles.slab(handle) == EventHandles.maxSlabs)
        #expect(EventHandles.slot(handle) == EventHandles.maxSlotsPerSlab)
    }

    @Test func slotsOfOneSlabDoNotOverlap() throws {
        let pool = try makePool(capacity: 64)
        let a = try #require(pool.take())
        let b = try #require(pool.take())
        #expect(b.base - a.base == pool.configuration.eventSizeBytes)
        a.data.initializeMemory(as: UInt8.self, repeating: 0xAA, count: Int(a.header.pointee.dataCapacity))
        #expect(b.header.pointee.handle == EventHandles.make(slab: 0, slot: 1))
        #expect(b.header.pointee.inUse == 1)
    }

    @Test func thePoolSplitsCapacityAndLargeSlotsAcrossWorkers() throws {
        let pool = try makePool(capacity: 200, largeSlots: 5, workers: 3)
        #expect((0..<3).map { pool.slabs[$0].smallCount } == [67, 67, 66])
        #expect((0..<3).map { pool.slabs[$0].largeCount } == [2, 2, 1])
        #expect((0..<3).map { pool.slabs[$0].index } == [0, 1, 2])
    }

    // MARK: - Medium slots

    @Test func mediumSlotsTakeWhatOutgrowsAnOrdinarySlotAndFitsThemBeforeLargeOnes() throws {
        let pool = try makePool(capacity: 64, maxEventSizeBytes: 8192, largeSlots: 2, mediumSlots: 3, mediumEventSizeBytes: 2048)
        let slab = pool.slabs[0]
        #expect(slab.mediumCount == 3 && slab.largeFirst == 67 && slab.slotCount == 69)
        var medium: [Event] = []
        for _ in 0..<3 { medium.append(try #require(pool.takeLonger(dataBytes: 1500))) }
        for event in medium {
            let slot = EventHandles.slot(event.header.pointee.handle)
            #expect(slot >= 64 && slot < 67, "medium slots sit between ordinary and large ones")
            #expect(event.header.pointee.dataCapacity == 2048)
            #expect(pool.event(event.header.pointee.handle).base == event.base)
        }
        // Medium slots exhausted: a large one takes the record.
        let overflow = try #require(pool.takeLonger(dataBytes: 1500))
        #expect(overflow.header.pointee.dataCapacity == 8192 && EventHandles.slot(overflow.header.pointee.handle) >= 67)
        // Longer than a medium slot: large at once.
        let long = try #require(pool.takeLonger(dataBytes: 4000))
        #expect(long.header.pointee.dataCapacity == 8192)
        #expect(pool.takeLonger(dataBytes: 100) == nil, "every longer slot taken")
        #expect(pool.slabs[0].freeSmallCount == 64, "longer slots never use ordinary ones")
        #expect(pool.slabs[0].takenCount == 5)
        pool.slabs[0].release(medium[1].header.pointee.handle)
        #expect(pool.slabs[0].freeMediumCount == 1 && pool.slabs[0].freeLargeCount == 0)
        #expect(pool.takeLonger(dataBytes: 2048)?.base == medium[1].base)
        for event in [medium[0], medium[2], overflow, long] { pool.slabs[0].release(event.header.pointee.handle) }
        #expect(pool.slabs[0].takenCount == 1)
    }

    @Test func mediumSlotsExistOnlyBetweenAnOrdinarySlotAndMaxEventSize() throws {
        #expect(try makePool(maxEventSizeBytes: 8192, mediumSlots: 4, mediumEventSizeBytes: 8192).slabs[0].mediumCount == 0)
        #expect(try makePool(eventSizeBytes: 1024, mediumSlots: 4, mediumEventSizeBytes: 512).slabs[0].mediumCount == 0)
        #expect(try makePool(workers: 2, mediumSlots: 5, mediumEventSizeBytes: 2048).slabs[1].mediumCount == 2)
        var odd = PoolConfiguration()
        odd.mediumEventSizeBytes = 20000
        #expect(odd.problem(workers: 1) == "medium-event-size must be a multiple of 64 bytes")
    }

    // MARK: - Large slots

    @Test func largeSlotsAreSeparateFromOrdinaryOnes() throws {
        let pool = try makePool(capacity: 64, maxEventSizeBytes: 8192, largeSlots: 4)
        var large: [Event] = []
        while let event = pool.takeLarge() { large.append(event) }
        #expect(large.count == 4)
        for event in large {
            #expect(EventHandles.slot(event.header.pointee.handle) >= pool.slabs[0].smallCount)
            #expect(event.header.pointee.dataCapacity == 8192)
            #expect(pool.event(event.header.pointee.handle).base == event.base)
        }
        #expect(pool.slabs[0].freeSmallCount == 64, "taking large slots must not use ordinary ones")
        #expect(pool.take() != nil)
        pool.slabs[0].release(large[2].header.pointee.handle)
        #expect(pool.slabs[0].freeLargeCount == 1)
        #expect(pool.takeLarge()?.base == large[2].base)
    }

    @Test func aLargeSlotHoldsAFullMaxSizeRecord() throws {
        let pool = try makePool(capacity: 64, maxEventSizeBytes: 8192, largeSlots: 2)
        let first = try #require(pool.takeLarge())
        let second = try #require(pool.takeLarge())
        first.data.initializeMemory(as: UInt8.self, repeating: 0x5A, count: 8192)
        #expect(first.data + 8192 <= second.base, "a full large record must not reach into the next slot")
        #expect(second.header.pointee.dataCapacity == 8192)
    }

    @Test func noLargeSlotsExistWhenEveryRecordFitsAnOrdinarySlot() throws {
        let pool = try makePool(capacity: 64, eventSizeBytes: 1024, maxEventSizeBytes: 512, largeSlots: 4)
        #expect(pool.slabs[0].largeCount == 0)
        #expect(pool.takeLarge() == nil)
    }

    // MARK: - Headers

    @Test func headersAreWrittenWhenASlotIsFirstTaken() throws {
        let pool = try makePool(capacity: 64, maxFields: 8)
        let configuration = pool.configuration
        let untouched = Event(base: pool.slabs[0].smallBase + configuration.eventSizeBytes)
        #expect(untouched.header.pointee.dataOffset == 0)
        #expect(untouched.header.pointee.dataCapacity == 0)

        let event = try #require(pool.take())
        #expect(event.header.pointee.dataCapacity == UInt32(configuration.smallDataCapacity))
        #expect(event.header.pointee.fieldCapacity == 8)
        #expect(event.header.pointee.dataOffset == UInt32(configuration.headerAndIndexBytes))
        #expect(event.header.pointee.inUse == 1)
        #expect(untouched.header.pointee.dataCapacity == 0, "the second slot stays untouched until taken")

        let large = try #require(pool.takeLarge())
        #expect(large.header.pointee.dataCapacity == UInt32(configuration.maxEventSizeBytes))
        #expect(large.header.pointee.fieldCapacity == 8)
    }

    @Test func aRetakenSlotStartsEmpty() throws {
        let pool = try makePool(capacity: 64)
        let event = try #require(pool.take())
        event.mutableHeader.pointee.rawLength = 10
        event.mutableHeader.pointee.usedLength = 20
        event.mutableHeader.pointee.fieldCount = 3
        event.mutableHeader.pointee.flags = [.cut, .modified]
        event.mutableHeader.pointee.offset = 99
        let handle = event.header.pointee.handle
        pool.slabs[0].release(handle)
        #expect(event.header.pointee.inUse == 0)

        let again = try #require(pool.take())
        #expect(again.header.pointee.handle == handle)
        #expect(again.header.pointee.rawLength == 0)
        #expect(again.header.pointee.usedLength == 0)
        #expect(again.header.pointee.fieldCount == 0)
        #expect(again.header.pointee.flags == [])
        #expect(again.header.pointee.offset == 0)
        #expect(again.header.pointee.dataCapacity == UInt32(pool.configuration.smallDataCapacity))
    }

    @Test func releasingAnEventTwiceTraps() async {
        await #expect(processExitsWith: .failure) {
            let pool = try makePool(capacity: 64)
            let handle = pool.take()!.header.pointee.handle
            pool.slabs[0].release(handle)
            pool.slabs[0].release(handle)
        }
    }

    // MARK: - Configuration problems

    @Test func theDefaultConfigurationHasNoProblem() {
        #expect(PoolConfiguration().problem(workers: 1) == nil)
        #expect(PoolConfiguration().problem(workers: 8) == nil)
    }

    @Test func theHeaderAndIndexAreRoundedToACacheLine() {
        for fields in [1, 8, 32, 100] {
            let configuration = PoolConfiguration(maxFields: fields)
            #expect(configuration.headerAndIndexBytes % 64 == 0)
            #expect(configuration.headerAndIndexBytes >= MemoryLayout<EventHeader>.stride + fields * MemoryLayout<FieldEntry>.stride)
            #expect(configuration.smallDataCapacity == configuration.eventSizeBytes - configuration.headerAndIndexBytes)
        }
    }

    @Test(arguments: [
        (PoolConfiguration(maxFields: 0), 1, "max-fields must be between 1 and 4096"),
        (PoolConfiguration(maxFields: 4097), 1, "max-fields must be between 1 and 4096"),
        (PoolConfiguration(eventSizeBytes: 1000), 1, "event-size must be a multiple of 64 bytes"),
        (PoolConfiguration(maxEventSizeBytes: 0), 1, "max-event-size must be positive"),
        (PoolConfiguration(capacity: 100), 2, "pool-capacity 100 is below 64 events per worker (2 workers)"),
        (PoolConfiguration(capacity: 1 << 25), 1, "pool-capacity is too large for one slab"),
        (PoolConfiguration(largeSlots: -1), 1, "large-event-slots must not be negative"),
        (PoolConfiguration(largeSlots: 1), 2,
         "large-event-slots must be at least the number of workers (2) when max-event-size exceeds the data part of an event slot"),
    ])
    func problemNamesTheBadSize(configuration: PoolConfiguration, workers: Int, message: String) {
        #expect(configuration.problem(workers: workers) == message)
    }

    @Test func problemSaysHowManyDataBytesATooSmallSlotLeaves() {
        let configuration = PoolConfiguration(eventSizeBytes: 256, maxFields: 8)
        let left = 256 - configuration.headerAndIndexBytes
        #expect(configuration.problem(workers: 1)
            == "event-size 256 leaves \(left) data bytes after the header and 8 fields; raise event-size or lower max-fields")
    }

    @Test func fewLargeSlotsAreFineWhenRecordsFitOrdinarySlots() {
        let configuration = PoolConfiguration(eventSizeBytes: 4096, maxEventSizeBytes: 1024, largeSlots: 0)
        #expect(configuration.problem(workers: 4) == nil)
    }
}
