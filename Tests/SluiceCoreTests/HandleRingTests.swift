import Foundation
import Testing

@testable import SluiceCore

/// Pushes `values` in one call; returns how many the ring took.
private func push(_ ring: HandleRing, _ values: [EventHandle]) -> Int {
    values.withUnsafeBufferPointer { ring.push($0.baseAddress!, count: $0.count) }
}

/// Pops up to `max` handles.
private func pop(_ ring: HandleRing, max: Int) -> [EventHandle] {
    [EventHandle](unsafeUninitializedCapacity: max) { buffer, count in
        count = ring.pop(into: buffer.baseAddress!, max: max)
    }
}

/// A small deterministic generator so a failing stress run can be replayed.
private struct SplitMix64 {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    mutating func next(in range: ClosedRange<Int>) -> Int {
        range.lowerBound + Int(next() % UInt64(range.count))
    }
}

@Suite struct HandleRingTests {
    @Test(arguments: [(1, 1), (2, 2), (3, 4), (5, 8), (8, 8), (9, 16), (1000, 1024), (1024, 1024)])
    func capacityIsRoundedUpToAPowerOfTwo(requested: Int, slots: Int) {
        let ring = HandleRing(capacity: requested)
        defer { ring.deallocate() }
        #expect(ring.slotCount == slots)
        #expect(push(ring, Array(0..<UInt32(slots + 3))) == slots)
    }

    @Test func aNewRingIsEmptyAndPopsNothing() {
        let ring = HandleRing(capacity: 8)
        defer { ring.deallocate() }
        #expect(ring.isEmpty)
        #expect(ring.count == 0)
        #expect(pop(ring, max: 8).isEmpty)
    }

    @Test func popReturnsPushedHandlesInOrderUpToMax() {
        let ring = HandleRing(capacity: 16)
        defer { ring.deallocate() }
        #expect(push(ring, [10, 11, 12, 13, 14]) == 5)
        #expect(ring.count == 5)
        #expect(pop(ring, max: 2) == [10, 11])
        #expect(ring.count == 3)
        #expect(pop(ring, max: 10) == [12, 13, 14])
        #expect(ring.isEmpty)
    }

    @Test func aFullRingRefusesMoreHandles() {
        let ring = HandleRing(capacity: 8)
        defer { ring.deallocate() }
        #expect(push(ring, Array(0..<10)) == 8, "a batch larger than the free space is pushed in part")
        #expect(!ring.push(99))
        #expect(push(ring, [1, 2]) == 0)
        #expect(pop(ring, max: 3) == [0, 1, 2])
        #expect(push(ring, [20, 21, 22, 23, 24]) == 3)
        #expect(pop(ring, max: 8) == [3, 4, 5, 6, 7, 20, 21, 22])
    }

    @Test func singlePushAndPopWorkOneAtATime() {
        let ring = HandleRing(capacity: 2)
        defer { ring.deallocate() }
        #expect(ring.push(7))
        #expect(ring.push(8))
        #expect(!ring.push(9))
        #expect(pop(ring, max: 1) == [7])
        #expect(ring.push(9))
        #expect(pop(ring, max: 5) == [8, 9])
    }

    @Test func batchesWrapAroundTheEndOfTheSlots() {
        let ring = HandleRing(capacity: 8)
        defer { ring.deallocate() }
        var next: EventHandle = 0
        var expected: EventHandle = 0
        // Batches of 5 and 3 against 8 slots start at every index and straddle the end.
        for round in 0..<100 {
            let size = round % 2 == 0 ? 5 : 3
            let batch = (0..<size).map { next + EventHandle($0) }
            #expect(push(ring, batch) == size)
            next += EventHandle(size)
            let popped = pop(ring, max: size)
            #expect(popped == (0..<size).map { expected + EventHandle($0) })
            expected += EventHandle(popped.count)
        }
    }

    @Test func aFullRingWrapsAndStaysInOrder() {
        let ring = HandleRing(capacity: 4)
        defer { ring.deallocate() }
        #expect(push(ring, [0, 1, 2, 3]) == 4)
        #expect(pop(ring, max: 3) == [0, 1, 2])
        #expect(push(ring, [4, 5, 6, 7]) == 3)
        #expect(ring.count == 4)
        #expect(pop(ring, max: 4) == [3, 4, 5, 6])
    }

    /// One producer thread and one consumer thread move 0..<N through a small ring in random
    /// batch sizes; every handle must arrive exactly once and in order.
    @Test func concurrentProducerAndConsumerDeliverEveryHandleOnceInOrder() {
        let total = 5_000_000
        let ring = HandleRing(capacity: 256)
        defer { ring.deallocate() }
        let producerDone = DispatchSemaphore(value: 0)

        let producer = Thread {
            var random = SplitMix64(state: 1)
            let buffer = UnsafeMutablePointer<EventHandle>.allocate(capacity: 64)
            defer { buffer.deallocate() }
            var next = 0
            while next < total {
                let size = min(random.next(in: 1...64), total - next)
                // Partial pushes into a full ring end the tail where an earlier pop ended, which can
                // lock every later pop onto the same boundaries; waiting for room half the time
                // keeps the batch boundaries random, so pops also wrap around the end of the slots.
                if random.next() & 1 == 0 && ring.slotCount - ring.count < size {
                    sched_yield()
                    continue
                }
                for i in 0..<size { buffer[i] = EventHandle(next + i) }
                let pushed = ring.push(buffer, count: size)
                next += pushed
                if pushed == 0 { sched_yield() }
            }
            producerDone.signal()
        }
        producer.start()

        var random = SplitMix64(state: 2)
        let buffer = UnsafeMutablePointer<EventHandle>.allocate(capacity: 64)
        defer { buffer.deallocate() }
        var expected = 0
        var outOfOrder = 0
        var firstWrong: (expected: Int, got: EventHandle)? = nil
        var wrappedPops = 0
        while expected < total {
            let n = ring.pop(into: buffer, max: random.next(in: 1...64))
            if n == 0 { sched_yield(); continue }
            if expected % ring.slotCount + n > ring.slotCount { wrappedPops += 1 }
            for i in 0..<n where buffer[i] != EventHandle(truncatingIfNeeded: expected + i) {
                outOfOrder += 1
                if firstWrong == nil { firstWrong = (expected + i, buffer[i]) }
            }
            expected += n
        }
        producerDone.wait()

        #expect(outOfOrder == 0, "first wrong handle: \(String(describing: firstWrong))")
        #expect(wrappedPops > 0, "the run must pop batches that wrap around the end of the slots")
        #expect(expected == total)
        #expect(ring.isEmpty)
        #expect(ring.count == 0)
    }
}
