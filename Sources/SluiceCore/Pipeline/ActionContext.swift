/// What an action may ask of the worker running it: room for a change that does not fit the
/// event's slot. The worker reads `event` and `handle` back after every action, since making
/// room may move the event to another slot.
public struct ActionContext {
    /// The event the actions work on (after `makeRoom`, possibly in a new slot).
    public private(set) var event: Event
    public private(set) var handle: EventHandle
    /// The running worker's own slab: the only free lists it may take from.
    let slab: UnsafeMutablePointer<Slab>

    /// `slab` is the running worker's own (tests and tools outside a worker: any slab that
    /// only they use).
    public init(event: Event, handle: EventHandle, slab: UnsafeMutablePointer<Slab>) {
        self.event = event
        self.handle = handle
        self.slab = slab
    }

    public enum Room {
        /// `event` has the room asked for.
        case ready
        /// The change needs a large slot and none is free now: the event waits (the worker
        /// stops processing until one comes back, like an output that is full) and the action
        /// runs again.
        case wait
        /// Even a large slot (`--max-event-size`) cannot hold it.
        case tooLarge
    }

    /// Room in `event` for `entries` index entries and `bytes` more data bytes: the index grows
    /// into the slot's data area when that suffices, else the event moves to a large slot of
    /// this worker (header, index and data copied). The slot it leaves stays taken until the
    /// moved event is released (`EventFlags.grown`): it carries the event's release count and
    /// offset commit to the slab and source that made it, in stream order.
    public mutating func makeRoom(fieldEntries entries: Int, dataBytes bytes: Int) -> Room {
        if event.growIndex(toHold: entries, dataBytes: bytes) { return .ready }
        let largeSlotBytes = slab.pointee.headerAndIndexBytes + slab.pointee.largeDataCapacity
        // A large slot's index never shrinks below the one it is made with (`growIndex` only grows).
        let indexBytes = max(Event.dataOffset(forFieldEntries: max(entries, event.fieldCount)), slab.pointee.headerAndIndexBytes)
        let needed = indexBytes + Int(event.header.pointee.usedLength) + bytes
        // An event in a large slot already has all the room there is (the index grew above).
        guard slab.pointee.largeCount > 0, event.slotBytes < largeSlotBytes, needed <= largeSlotBytes,
              entries <= Int(UInt16.max) else { return .tooLarge }
        guard let large = slab.pointee.takeLarge() else { return .wait }
        let copied = event.copy(into: large, fieldEntries: entries, dataBytes: bytes)
        precondition(copied, "a large slot is smaller than the room computed for it")
        large.header.pointee.origin = handle
        large.header.pointee.flags |= EventFlags.grown
        event = large
        handle = large.header.pointee.handle
        return .ready
    }
}
