import CSupport
import Glibc

/// Sizes of the preallocated event pool, fixed at start-up.
public struct PoolConfiguration: Sendable, Equatable {
    /// Ordinary slots in the whole pool (split across workers).
    public var capacity: Int
    /// Bytes per ordinary slot: header + field index + data.
    public var eventSizeBytes: Int
    /// Largest record kept whole; longer ones are cut. Records that outgrow an ordinary slot
    /// move to a large slot of this data size.
    public var maxEventSizeBytes: Int
    /// Large slots in the whole pool (split across workers, at least one each).
    public var largeSlots: Int
    /// Data bytes of a medium slot: a record or a change that outgrows an ordinary slot but fits
    /// this takes a medium slot before a large one. Production logs have many lines of a few KiB
    /// to a few tens of KiB; with only ordinary and max-event-size slots every such line held a
    /// 1 MiB slot, of which there are few, and inputs waited for them.
    public var mediumEventSizeBytes: Int = defaultMediumEventSizeBytes
    /// Medium slots in the whole pool (split across workers); 0: none.
    public var mediumSlots: Int = defaultMediumSlots
    /// Field index entries per event.
    public var maxFields: Int
    public var hugePages: Bool
    public var lockMemory: Bool
    /// Fault the ordinary slots in when the pool is made (`--pool-prefault`): under load every
    /// slot is resident anyway (the pool is the queue), so memory is what it will be from the
    /// first second, and no page fault (a 2 MiB huge page is zeroed on its first touch) lands on
    /// the event path. Large slots stay lazy: only long records touch them.
    public var prefault = true
    /// False once `--pool-capacity` (or the key) set `capacity`: the default alone grows to the
    /// minimum of 64 slots per worker on machines with more than 64 workers.
    public var capacityIsDefault = true
    /// False once `--large-event-slots` set `largeSlots`: the default alone grows to one per
    /// worker on machines with more than 8 workers.
    public var largeSlotsIsDefault = true

    /// The defaults fitted to `workers`: what was not set explicitly grows to the minimum the
    /// checks in `problem(workers:)` ask for.
    public func fitted(workers: Int) -> PoolConfiguration {
        var c = self
        if c.capacityIsDefault { c.capacity = max(c.capacity, workers * PoolConfiguration.minimumSlotsPerWorker) }
        if c.largeSlotsIsDefault { c.largeSlots = max(c.largeSlots, workers) }
        return c
    }

    /// 16 MiB of 4 KiB slots. While inputs outpace the outputs the whole pool is the queue and
    /// every slot is resident, so this bounds the node's memory under load; 8192 measured no
    /// faster in the bench scenarios (perf/README.md, memory).
    public static let defaultCapacity = 4096
    public static let defaultEventSizeBytes = 4096
    public static let defaultMaxEventSizeBytes = 1 << 20
    public static let defaultLargeSlots = 8
    /// Lines of realistic logs run to 12 KiB and more (stack traces, request bodies).
    public static let defaultMediumEventSizeBytes = 16 << 10
    /// An eighth of the ordinary slots. On the realistic corpus (28% of lines over 4 KiB),
    /// `file-chain-realistic` ran as fast with 256 as with 1024, and 1024 cost 10 MB more RSS
    /// (perf/README.md, memory).
    public static let defaultMediumSlots = 512
    public static let defaultMaxFields = 32
    /// The smallest slab a worker may have.
    public static let minimumSlotsPerWorker = 64

    public init(capacity: Int = defaultCapacity, eventSizeBytes: Int = defaultEventSizeBytes,
                maxEventSizeBytes: Int = defaultMaxEventSizeBytes, largeSlots: Int = defaultLargeSlots,
                maxFields: Int = defaultMaxFields, hugePages: Bool = true, lockMemory: Bool = false) {
        self.capacity = capacity
        self.eventSizeBytes = eventSizeBytes
        self.maxEventSizeBytes = maxEventSizeBytes
        self.largeSlots = largeSlots
        self.maxFields = maxFields
        self.hugePages = hugePages
        self.lockMemory = lockMemory
    }

    /// Bytes in front of the data in every slot.
    public var headerAndIndexBytes: Int {
        let raw = MemoryLayout<EventHeader>.stride + maxFields * MemoryLayout<FieldEntry>.stride
        return (raw + 63) & ~63
    }

    public var smallDataCapacity: Int { eventSizeBytes - headerAndIndexBytes }

    /// Whether the pool has medium slots: some configured, and their size between an ordinary
    /// slot's data and max-event-size (else ordinary or large slots already cover it).
    public var hasMediumSlots: Bool {
        mediumSlots > 0 && mediumEventSizeBytes > smallDataCapacity && mediumEventSizeBytes < maxEventSizeBytes
    }

    /// Why these sizes cannot work, or nil.
    public func problem(workers: Int) -> String? {
        if workers < 1 { return "at least one worker is needed" }
        if maxFields < 1 || maxFields > 4096 { return "max-fields must be between 1 and 4096" }
        if eventSizeBytes % 64 != 0 { return "event-size must be a multiple of 64 bytes" }
        if smallDataCapacity < 64 { return "event-size \(eventSizeBytes) leaves \(smallDataCapacity) data bytes after the header and \(maxFields) fields; raise event-size or lower max-fields" }
        if maxEventSizeBytes < 1 { return "max-event-size must be positive" }
        if capacity < workers * PoolConfiguration.minimumSlotsPerWorker { return "pool-capacity \(capacity) is below \(PoolConfiguration.minimumSlotsPerWorker) events per worker (\(workers) workers)" }
        if capacity / workers > EventHandles.maxSlotsPerSlab - largeSlots { return "pool-capacity is too large for one slab" }
        if largeSlots < 0 { return "large-event-slots must not be negative" }
        if mediumSlots < 0 { return "medium-event-slots must not be negative" }
        if mediumEventSizeBytes % 64 != 0 { return "medium-event-size must be a multiple of 64 bytes" }
        if capacity / workers + mediumSlots / workers + 1 > EventHandles.maxSlotsPerSlab - largeSlots { return "pool-capacity and medium-event-slots are too large for one slab" }
        if maxEventSizeBytes > smallDataCapacity && largeSlots < workers { return "large-event-slots must be at least the number of workers (\(workers)) when max-event-size exceeds the data part of an event slot" }
        return nil
    }
}

/// One worker's share of the pool: its memory, and its free lists (touched only by the owner).
public struct Slab {
    public let index: Int
    public let smallBase: UnsafeMutableRawPointer
    public let smallCount: Int
    public let smallSlotBytes: Int
    /// Medium slots follow the ordinary ones in the slab's slot numbers, large ones follow them.
    public let mediumBase: UnsafeMutableRawPointer?
    public let mediumCount: Int
    public let mediumSlotBytes: Int
    /// 0 without medium slots.
    public let mediumDataCapacity: Int
    public let largeBase: UnsafeMutableRawPointer?
    public let largeCount: Int
    public let largeSlotBytes: Int
    public let placement: SlabPlacement
    public let headerAndIndexBytes: Int
    public let fieldCapacity: Int
    public let largeDataCapacity: Int
    let totalBytes: Int
    let memory: UnsafeMutableRawPointer
    /// Free lists (stacks of slot numbers) and their depths: touched by the owning worker only.
    public let freeSmall: UnsafeMutablePointer<UInt32>
    public let freeMedium: UnsafeMutablePointer<UInt32>
    public let freeLarge: UnsafeMutablePointer<UInt32>
    public var freeSmallCount: Int
    public var freeMediumCount: Int
    public var freeLargeCount: Int
    /// The file paths of the sources this slab's worker reads, by source index (`add_file_name`).
    public let sourceNames: SourceNames
    /// Rounds the struct up to a multiple of `Slab.alignment` (`EventPool` allocates the slabs
    /// that aligned). Without it, the 200-byte slabs lay side by side in one allocation and,
    /// for half of malloc's placements, one worker's free-list depth shared a cache line with
    /// the next slab's first fields, read by the other worker on every release: the line went
    /// back and forth between the cores (ndjson-aggregate ran at 7 M events/s instead of 11.5 M
    /// after changes off its event path, depending on where the heap put the slabs). A test
    /// checks the stride.
    private let padding: (Int, Int, Int, Int, Int, Int, Int) = (0, 0, 0, 0, 0, 0, 0)
    /// Each slab starts on its own pair of cache lines (the adjacent-line prefetcher pulls lines
    /// in pairs), and no slab shares one with another.
    public static let alignment = 128

    /// Slot number of the first large slot.
    @inlinable public var largeFirst: Int { smallCount + mediumCount }
    /// Slots of every size.
    public var slotCount: Int { smallCount + mediumCount + largeCount }

    /// Faults this slab's ordinary slots in (MADV_POPULATE_WRITE, or one write per page where
    /// the kernel lacks it). Pages land where the slab's NUMA binding says (libnuma binds it to
    /// its worker's node), whichever thread faults them.
    public func prefaultOrdinarySlots() {
        let bytes = smallCount * smallSlotBytes
        guard bytes > 0 else { return }
        let page = 4096
        let start = UnsafeMutableRawPointer(bitPattern: Int(bitPattern: smallBase) & ~(page - 1))!
        let length = (smallBase + bytes) - start
        if madvise(start, length, 23 /* MADV_POPULATE_WRITE */) == 0 { return }
        // Untouched memory is zero: storing zero into each page changes nothing but faults it in.
        var offset = 0
        while offset < bytes {
            (smallBase + offset).storeBytes(of: (smallBase + offset).load(as: UInt8.self), as: UInt8.self)
            offset += page
        }
    }

    /// Ordinary slots framers leave to actions that make events: 1/16 of the slab, at most
    /// `maximumSlotsKeptForActions`, none in a slab of fewer than 16 slots.
    @inlinable public var slotsKeptForActions: Int { min(smallCount / 16, Slab.maximumSlotsKeptForActions) }
    public static let maximumSlotsKeptForActions = 64

    /// Events of this slab currently taken (anywhere in the node).
    public var takenCount: Int { slotCount - freeSmallCount - freeMediumCount - freeLargeCount }

    @inlinable @inline(__always) public func event(_ handle: EventHandle) -> Event {
        let slot = EventHandles.slot(handle)
        if slot < smallCount { return Event(base: smallBase + slot * smallSlotBytes) }
        if slot < largeFirst { return Event(base: mediumBase.unsafelyUnwrapped + (slot - smallCount) * mediumSlotBytes) }
        return Event(base: largeBase.unsafelyUnwrapped + (slot - largeFirst) * largeSlotBytes)
    }

    /// A fresh ordinary event, or nil when the slab is exhausted (the caller stops reading).
    /// Framers (`forFraming`) leave `slotsKeptForActions` free: an action that makes events
    /// (`split`) waits for one while the events queued behind it may hold all the others, so
    /// some must come back without them (outputs acknowledge what went before).
    @inlinable public mutating func take(forFraming: Bool = false) -> Event? {
        guard freeSmallCount > (forFraming ? slotsKeptForActions : 0) else { return nil }
        freeSmallCount -= 1
        let slot = Int(freeSmall[freeSmallCount])
        let e = Event(base: smallBase + slot * smallSlotBytes)
        reset(e, slot: slot, dataCapacity: smallSlotBytes - headerAndIndexBytes)
        return e
    }

    /// A fresh large event, or nil. Framers leave the last free one (`forFraming`) to actions
    /// whose change outgrows an ordinary slot (`ActionContext.makeRoom`): such an action waits
    /// for a large slot while the events behind it in the queue may hold the others, so one
    /// must come back without them. With a single large slot there is nothing to leave.
    @inlinable public mutating func takeLarge(forFraming: Bool = false) -> Event? {
        guard freeLargeCount > (forFraming && largeCount > 1 ? 1 : 0) else { return nil }
        freeLargeCount -= 1
        let slot = Int(freeLarge[freeLargeCount])
        let e = Event(base: largeBase! + slot * largeSlotBytes)
        reset(e, slot: largeFirst + slot, dataCapacity: largeDataCapacity)
        return e
    }

    /// A fresh medium event, or nil. Framers leave the last free one (`forFraming`) to actions,
    /// as with large slots.
    @inlinable public mutating func takeMedium(forFraming: Bool = false) -> Event? {
        guard freeMediumCount > (forFraming && mediumCount > 1 ? 1 : 0) else { return nil }
        freeMediumCount -= 1
        let slot = Int(freeMedium[freeMediumCount])
        let e = Event(base: mediumBase.unsafelyUnwrapped + slot * mediumSlotBytes)
        reset(e, slot: smallCount + slot, dataCapacity: mediumDataCapacity)
        return e
    }

    /// A fresh event for a record or a change that outgrew an ordinary slot and needs
    /// `dataBytes` of data: a medium slot when it fits one and one is free, else a large one;
    /// nil when none is free now. (A record still growing may later move on to a large slot.)
    @inlinable public mutating func takeLonger(dataBytes: Int, forFraming: Bool = false) -> Event? {
        if dataBytes <= mediumDataCapacity, let e = takeMedium(forFraming: forFraming) { return e }
        return takeLarge(forFraming: forFraming)
    }

    /// Headers are written when a slot is first taken, by the owning worker: pages are touched
    /// (and, without libnuma, placed) by the thread that uses them, and RSS grows only with use.
    @inlinable func reset(_ e: Event, slot: Int, dataCapacity: Int) {
        if e.base.load(fromByteOffset: MemoryLayout<EventHeader>.offset(of: \EventHeader.dataOffset)!, as: UInt32.self) == 0 {
            let h = e.base.bindMemory(to: EventHeader.self, capacity: 1)
            h.pointee.handle = EventHandles.make(slab: index, slot: slot)
            h.pointee.inUse = 0
            (e.base + MemoryLayout<EventHeader>.stride).bindMemory(to: FieldEntry.self, capacity: fieldCapacity)
        }
        let h = e.mutableHeader
        precondition(h.pointee.inUse == 0, "event slot taken twice")
        // Every take: an action may have grown the index into the data area (`Event.growIndex`).
        h.pointee.dataCapacity = UInt32(dataCapacity)
        h.pointee.fieldCapacity = UInt16(fieldCapacity)
        h.pointee.dataOffset = UInt32(headerAndIndexBytes)
        h.pointee.inUse = 1
        h.pointee.rawLength = 0
        h.pointee.usedLength = 0
        h.pointee.fieldCount = 0
        h.pointee.flags = []
        h.pointee.offset = 0
    }

    /// Gives an event of this slab back; only the owning worker calls this.
    @inlinable public mutating func release(_ handle: EventHandle) {
        precondition(EventHandles.slab(handle) == index, "event released to a foreign slab")
        let e = event(handle)
        precondition(e.header.pointee.inUse == 1, "event released twice")
        e.mutableHeader.pointee.inUse = 0
        let slot = EventHandles.slot(handle)
        if slot < smallCount {
            freeSmall[freeSmallCount] = UInt32(slot)
            freeSmallCount += 1
        } else if slot < largeFirst {
            freeMedium[freeMediumCount] = UInt32(slot - smallCount)
            freeMediumCount += 1
        } else {
            freeLarge[freeLargeCount] = UInt32(slot - largeFirst)
            freeLargeCount += 1
        }
    }
}

/// The preallocated event pool: one slab per worker, each on its worker's NUMA node; never grows.
public final class EventPool: @unchecked Sendable {
    public let configuration: PoolConfiguration
    /// Slab table; slab i belongs to worker i. Geometry is read-only after init, free lists are
    /// owned by their worker.
    public let slabs: UnsafeMutablePointer<Slab>
    public let slabCount: Int

    public init(_ configuration: PoolConfiguration, placements: [SlabPlacement]) throws(SystemError) {
        let workers = placements.count
        precondition(workers > 0 && workers <= EventHandles.maxSlabs)
        self.configuration = configuration
        slabCount = workers
        slabs = UnsafeMutableRawPointer.allocate(byteCount: workers * MemoryLayout<Slab>.stride, alignment: Slab.alignment)
            .bindMemory(to: Slab.self, capacity: workers)
        let fieldCapacity = configuration.maxFields
        let headerBytes = configuration.headerAndIndexBytes
        let largeSlotBytes = configuration.maxEventSizeBytes > configuration.smallDataCapacity
            ? ((headerBytes + configuration.maxEventSizeBytes + 63) & ~63) : 0
        let mediumSlotBytes = configuration.hasMediumSlots ? ((headerBytes + configuration.mediumEventSizeBytes + 63) & ~63) : 0
        for w in 0..<workers {
            let small = configuration.capacity / workers + (w < configuration.capacity % workers ? 1 : 0)
            let medium = mediumSlotBytes == 0 ? 0 : configuration.mediumSlots / workers + (w < configuration.mediumSlots % workers ? 1 : 0)
            let large = largeSlotBytes == 0 ? 0 : configuration.largeSlots / workers + (w < configuration.largeSlots % workers ? 1 : 0)
            let smallBytes = small * configuration.eventSizeBytes
            let mediumBytes = medium * mediumSlotBytes
            let total = smallBytes + mediumBytes + large * largeSlotBytes
            guard let memory = SlabMemory.allocate(bytes: total, placement: placements[w], hugePages: configuration.hugePages) else {
                throw SystemError(code: 12, operation: "allocating \(total) bytes for the event pool slab of worker \(w)")
            }
            if configuration.lockMemory {
                let rc = sl_lock_memory(memory, total)
                if rc != 0 { throw SystemError(negated: rc, operation: "mlock of the event pool (raise LimitMEMLOCK or drop --lock-memory)") }
            }
            let freeSmall = UnsafeMutablePointer<UInt32>.allocate(capacity: max(small, 1))
            let freeMedium = UnsafeMutablePointer<UInt32>.allocate(capacity: max(medium, 1))
            let freeLarge = UnsafeMutablePointer<UInt32>.allocate(capacity: max(large, 1))
            // Free lists are stacks popped from the top: push in reverse so slot 0 goes out first.
            for i in 0..<small { freeSmall[i] = UInt32(small - 1 - i) }
            for i in 0..<medium { freeMedium[i] = UInt32(medium - 1 - i) }
            for i in 0..<large { freeLarge[i] = UInt32(large - 1 - i) }
            let mediumBase = medium > 0 ? memory + smallBytes : nil
            let largeBase = large > 0 ? memory + smallBytes + mediumBytes : nil
            (slabs + w).initialize(to: Slab(index: w, smallBase: memory, smallCount: small, smallSlotBytes: configuration.eventSizeBytes,
                                            mediumBase: mediumBase, mediumCount: medium, mediumSlotBytes: mediumSlotBytes,
                                            mediumDataCapacity: medium > 0 ? configuration.mediumEventSizeBytes : 0,
                                            largeBase: largeBase, largeCount: large, largeSlotBytes: largeSlotBytes,
                                            placement: placements[w], headerAndIndexBytes: headerBytes, fieldCapacity: fieldCapacity,
                                            largeDataCapacity: configuration.maxEventSizeBytes, totalBytes: total, memory: memory,
                                            freeSmall: freeSmall, freeMedium: freeMedium, freeLarge: freeLarge, freeSmallCount: small,
                                            freeMediumCount: medium, freeLargeCount: large, sourceNames: SourceNames()))
            // Before any listener opens, so no sender's first events wait for it.
            if configuration.prefault { slabs[w].prefaultOrdinarySlots() }
        }
    }

    deinit {
        for w in 0..<slabCount {
            let s = slabs[w]
            SlabMemory.free(s.memory, bytes: s.totalBytes, placement: s.placement)
            s.freeSmall.deallocate()
            s.freeMedium.deallocate()
            s.freeLarge.deallocate()
            s.sourceNames.dispose()
        }
        slabs.deallocate()
    }

    /// The event behind any handle, whichever worker owns it.
    @inlinable public func event(_ handle: EventHandle) -> Event {
        slabs[EventHandles.slab(handle)].event(handle)
    }
}
