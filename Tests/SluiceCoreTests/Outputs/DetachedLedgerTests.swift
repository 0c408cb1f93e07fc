import Testing

@testable import SluiceCore

/// What an output keeps of an event whose slot it gives back before the destination answers.
@Suite struct DetachedLedgerTests {
    /// An event as the single output of its pipeline receives it: routed to output bit 1, one
    /// acknowledgement pending.
    func routedEvent(_ text: String, in pool: EventPool, sourceID: UInt32 = 0x0100_0005, offset: UInt64 = 77) -> Event {
        let event = makeEvent(text, in: pool)
        event.mutableHeader.pointee.sourceID = sourceID
        event.mutableHeader.pointee.offset = offset
        event.mutableHeader.pointee.receivedNanos = 1234
        event.route(1, acknowledgements: 1)
        return event
    }

    @Test func anEventNothingElseHoldsIsRecordedWithItsCommitIdentityAndRawBytes() throws {
        let pool = try makePool()
        var ledger = DetachedLedger(capacity: 4, rawCapacity: 64)
        defer { ledger.deallocate() }
        let event = routedEvent("{\"a\":1}", in: pool)
        let handle = ledger.detach(event, handle: event.header.pointee.handle, ownSlab: 0, routeBit: 1)
        #expect(handle == EventHandles.detached(0) && EventHandles.isDetached(EventHandles.detached(0)))
        let entry = ledger.entries[0]
        #expect(entry.sourceID == 0x0100_0005 && entry.offset == 77 && entry.receivedNanos == 1234 && entry.delivered)
        #expect(text(ledger.rawBytes(0)) == "{\"a\":1}")
        #expect(ledger.count == 1 && ledger.rawUsed == 7)
    }

    @Test func anEventAnotherOutputOrWorkerOrLinkedSlotStillNeedsKeepsItsSlot() throws {
        let pool = try makePool()
        var ledger = DetachedLedger(capacity: 4, rawCapacity: 0)
        defer { ledger.deallocate() }
        let shared = routedEvent("x", in: pool)
        shared.route(1, acknowledgements: 2)
        #expect(ledger.detach(shared, handle: shared.header.pointee.handle, ownSlab: 0, routeBit: 1) == nil)
        let foreign = routedEvent("y", in: pool)
        #expect(ledger.detach(foreign, handle: foreign.header.pointee.handle, ownSlab: 1, routeBit: 1) == nil)
        let grown = routedEvent("z", in: pool)
        grown.set(.grown)
        #expect(ledger.detach(grown, handle: grown.header.pointee.handle, ownSlab: 0, routeBit: 1) == nil)
        #expect(ledger.count == 0)
    }

    @Test func placeholdersAreRecordedAsNotDeliveredAndWithoutRawBytesNoCopyIsMade() throws {
        let pool = try makePool()
        var ledger = DetachedLedger(capacity: 4, rawCapacity: 0)
        defer { ledger.deallocate() }
        let dropped = routedEvent("dropped", in: pool)
        dropped.set(.discarded)
        let elsewhere = routedEvent("elsewhere", in: pool)
        elsewhere.route(2, acknowledgements: 1)
        #expect(ledger.detach(dropped, handle: dropped.header.pointee.handle, ownSlab: 0, routeBit: 1) != nil)
        #expect(ledger.detach(elsewhere, handle: elsewhere.header.pointee.handle, ownSlab: 0, routeBit: 1) != nil)
        #expect(!ledger.entries[0].delivered && !ledger.entries[1].delivered)
        #expect(ledger.rawBytes(1).count == 0 && ledger.rawUsed == 0)
    }

    @Test func whenEntriesOrRawBytesRunOutTheEventKeepsItsSlotAndAResetMakesRoom() throws {
        let pool = try makePool()
        var ledger = DetachedLedger(capacity: 2, rawCapacity: 10)
        defer { ledger.deallocate() }
        let first = routedEvent("12345678", in: pool)
        let tooLong = routedEvent("abcdef", in: pool)
        #expect(ledger.detach(first, handle: first.header.pointee.handle, ownSlab: 0, routeBit: 1) != nil)
        #expect(ledger.detach(tooLong, handle: tooLong.header.pointee.handle, ownSlab: 0, routeBit: 1) == nil)
        let short = routedEvent("ab", in: pool)
        #expect(ledger.detach(short, handle: short.header.pointee.handle, ownSlab: 0, routeBit: 1) != nil)
        let third = routedEvent("", in: pool)
        #expect(ledger.detach(third, handle: third.header.pointee.handle, ownSlab: 0, routeBit: 1) == nil)  // entries full
        ledger.reset()
        #expect(ledger.detach(tooLong, handle: tooLong.header.pointee.handle, ownSlab: 0, routeBit: 1) == EventHandles.detached(0))
        #expect(text(ledger.rawBytes(0)) == "abcdef")
    }
}
