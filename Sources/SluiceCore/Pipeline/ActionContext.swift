/// What an action may ask of the worker running it: room for a change that does not fit the
/// event's slot. The worker reads `event` and `handle` back after every action, since making
/// room may move the event to another slot.
public struct ActionContext {
    /// The event the actions work on (after `makeRoom`, possibly in a new slot).
    public private(set) var event: Event
    public private(set) var handle: EventHandle
    /// The running worker's own slab: the only free lists it may take from.
    let slab: UnsafeMutablePointer<Slab>
    /// The action's progress over `event` while it makes events from it (`split`: the next
    /// array element): 0 the first time the action sees the event, then what the action left
    /// here when it returned `.emit`, kept by the worker until the action finishes the event.
    public var cursor: UInt32 = 0
    /// The event an action returning `.emit` hands on (`emit(_:)`).
    public private(set) var emitted: EventHandle?

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

    /// The most data bytes an event can hold (a large slot's, or an ordinary one's without).
    public var maxDataBytes: Int {
        max(slab.pointee.largeCount > 0 ? slab.pointee.largeDataCapacity : 0, slab.pointee.smallSlotBytes - slab.pointee.headerAndIndexBytes)
    }

    /// The event behind any handle (an action holding events of other slabs): the slabs are one
    /// table, `EventPool.slabs`, this worker's at its own index.
    public func event(_ handle: EventHandle) -> Event {
        (slab - slab.pointee.index + EventHandles.slab(handle)).pointee.event(handle)
    }

    /// The path of the file `event` was read from, as an encoded JSON string (file and k8s
    /// inputs), or nil for an event of any other source. Two loads: the reading worker's slab
    /// names its sources by index (`SourceNames`).
    @inline(__always) public func fileName(of event: Event) -> UnsafeRawBufferPointer? {
        let id = event.header.pointee.sourceID
        guard SourceIDs.kind(id) == SourceIDs.Kind.file.rawValue else { return nil }
        return (slab - slab.pointee.index + SourceIDs.worker(id)).pointee.sourceNames.name(SourceIDs.index(id))
    }

    /// A fresh event of this worker's slab for an action to fill and `emit`: an ordinary slot
    /// when `dataBytes` fit one, else a medium or a large one. `nil` when none is free now: the action
    /// returns `.wait` and runs again (events of this worker come back as outputs acknowledge).
    /// The caller fills it whole (raw bytes, lengths, pipeline, source, offset, flags).
    public mutating func takeEvent(dataBytes: Int) -> Event? {
        if dataBytes <= slab.pointee.smallSlotBytes - slab.pointee.headerAndIndexBytes { return slab.pointee.take() }
        precondition(dataBytes <= slab.pointee.largeDataCapacity, "an emitted event larger than --max-event-size")
        return slab.pointee.takeLonger(dataBytes: dataBytes)
    }

    /// Gives back an event `takeEvent` gave that the action will not emit after all.
    public mutating func giveBack(_ event: Event) {
        slab.pointee.release(event.header.pointee.handle)
    }

    /// Hands `event` on (with the verdict `.emit`): the worker runs it through the actions after
    /// this one and to the outputs, ahead of `self.event`, then runs this action again on
    /// `self.event` with `cursor` as the action left it. An event taken with `takeEvent` is new
    /// (flag it `EventFlags.derived`); an event the action held (`.held`) goes on as it is.
    public mutating func emit(_ event: Event) {
        precondition(emitted == nil, "one event per .emit")
        emitted = event.header.pointee.handle
    }

    /// Room in `held`, an event the action holds (not `event`), as `makeRoom` gives it to
    /// `event`: `held` may move to a large slot.
    public func makeRoom(in held: inout Event, fieldEntries entries: Int, dataBytes bytes: Int) -> Room {
        var other = ActionContext(event: held, handle: held.header.pointee.handle, slab: slab)
        let room = other.makeRoom(fieldEntries: entries, dataBytes: bytes)
        held = other.event
        return room
    }

    /// Room in `event` for `entries` index entries and `bytes` more data bytes: the index grows
    /// into the slot's data area when that suffices, else the event moves to a medium slot of
    /// this worker when the room fits one, else a large one (header, index and data copied). The slot it leaves stays taken until the
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
        let mediumSlotBytes = slab.pointee.headerAndIndexBytes + slab.pointee.mediumDataCapacity
        let longer: Event?
        if needed <= mediumSlotBytes && event.slotBytes < mediumSlotBytes {
            longer = slab.pointee.takeLonger(dataBytes: needed - slab.pointee.headerAndIndexBytes)
        } else {
            longer = slab.pointee.takeLarge()
        }
        guard let large = longer else { return .wait }
        let copied = event.copy(into: large, fieldEntries: entries, dataBytes: bytes)
        precondition(copied, "a longer slot is smaller than the room computed for it")
        if event.has(.grown) {
            // Moved once already (into a medium slot of this worker): the new slot links to the
            // slot the event was framed in, and the medium one goes back now.
            large.linkGrown(from: event.header.pointee.origin)
            slab.pointee.release(handle)
        } else {
            large.linkGrown(from: handle)
        }
        event = large
        handle = large.header.pointee.handle
        return .ready
    }
}
