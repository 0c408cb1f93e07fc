import CSupport

/// A bounded lock-free single-producer/single-consumer queue of event handles, moved in batches.
///
/// The producer owns `tail`, the consumer owns `head`; each publishes its index with a release
/// store and reads the other's with an acquire load. Both indices sit on their own cache lines
/// (128 bytes apart, for adjacent-line prefetch), and each side caches the other's last seen
/// index so a push or pop touches the shared line only when the cached view says full/empty.
@frozen public struct HandleRing: @unchecked Sendable {
    @usableFromInline let capacity: Int
    @usableFromInline let mask: Int
    @usableFromInline let slots: UnsafeMutablePointer<EventHandle>
    /// [0]: head (consumer), [16]: tail (producer), [32]: producer's cached head, [48]: consumer's cached tail.
    @usableFromInline let words: UnsafeMutablePointer<UInt64>

    /// `capacity` is rounded up to a power of two.
    public init(capacity requested: Int) {
        precondition(requested > 0)
        var c = 1
        while c < requested { c <<= 1 }
        capacity = c
        mask = c - 1
        slots = .allocate(capacity: c)
        words = .allocate(capacity: 64)
        words.initialize(repeating: 0, count: 64)
    }

    /// Frees the ring; no thread may use it afterwards. (A struct of pointers rather than a class
    /// so workers hold rings in plain memory with no reference counting on the hot path.)
    public func deallocate() {
        slots.deallocate()
        words.deallocate()
    }

    @inlinable var head: UnsafeMutablePointer<UInt64> { words }
    @inlinable var tail: UnsafeMutablePointer<UInt64> { words + 16 }
    @inlinable var producerCachedHead: UnsafeMutablePointer<UInt64> { words + 32 }
    @inlinable var consumerCachedTail: UnsafeMutablePointer<UInt64> { words + 48 }

    public var slotCount: Int { capacity }

    /// Items queued now (exact only from the producer or consumer thread; a gauge elsewhere).
    public var count: Int { Int(sl_load_acquire(tail) &- sl_load_acquire(head)) }

    /// Producer: appends up to `count` handles from `source`; returns how many fit.
    @inlinable public func push(_ source: UnsafePointer<EventHandle>, count: Int) -> Int {
        let t = tail.pointee  // only the producer writes tail
        var free = capacity - Int(t &- producerCachedHead.pointee)
        if free < count {
            producerCachedHead.pointee = sl_load_acquire(head)
            free = capacity - Int(t &- producerCachedHead.pointee)
        }
        let n = min(free, count)
        if n == 0 { return 0 }
        let start = Int(t) & mask
        let first = min(n, capacity - start)
        (slots + start).update(from: source, count: first)
        if first < n { slots.update(from: source + first, count: n - first) }
        sl_store_release(tail, t &+ UInt64(n))
        return n
    }

    /// Producer: appends one handle; false when full.
    @inlinable public func push(_ handle: EventHandle) -> Bool {
        withUnsafePointer(to: handle) { push($0, count: 1) } == 1
    }

    /// Consumer: moves up to `max` handles into `destination`; returns how many.
    @inlinable public func pop(into destination: UnsafeMutablePointer<EventHandle>, max: Int) -> Int {
        let h = head.pointee  // only the consumer writes head
        var available = Int(consumerCachedTail.pointee &- h)
        if available < max {
            consumerCachedTail.pointee = sl_load_acquire(tail)
            available = Int(consumerCachedTail.pointee &- h)
        }
        let n = min(available, max)
        if n == 0 { return 0 }
        let start = Int(h) & mask
        let first = min(n, capacity - start)
        destination.update(from: slots + start, count: first)
        if first < n { (destination + first).update(from: slots, count: n - first) }
        sl_store_release(head, h &+ UInt64(n))
        return n
    }

    /// Consumer: true when nothing is queued.
    @inlinable public var isEmpty: Bool { sl_load_acquire(tail) == head.pointee }
}
