import CSupport

/// One stream connection's received buffers not yet read, oldest first: an intrusive list over
/// provided-buffer ids (`ReceiveBuffers` keeps the links, so queuing allocates nothing) and how
/// much of the oldest one was read.
struct ReceiveQueue {
    var head: Int32 = -1
    var tail: Int32 = -1
    var headConsumed = 0

    var isEmpty: Bool { head < 0 }
}

/// A stream family's provided receive buffers on one worker (the buffer ring its multishot
/// receives fill, registered once its ring exists) and, per buffer, the next buffer of its
/// connection's queue and its length. A buffer goes back to the kernel once its connection has
/// read it all; until then the kernel has one fewer to fill, which is how a full pool reaches
/// the senders (backpressure).
struct ReceiveBuffers {
    private(set) var ring: BufferRing?
    private let next: UnsafeMutablePointer<Int32>
    private let length: UnsafeMutablePointer<Int32>
    let count: Int
    let size: Int
    /// A buffer went back to the kernel: receives that ran out of buffers may be armed again.
    var recycled = false

    init(count: Int, size: Int) {
        self.count = count
        self.size = size
        next = .allocate(capacity: count)
        length = .allocate(capacity: count)
    }

    var isRegistered: Bool { ring != nil }
    var group: Int32 { ring!.group }

    mutating func register(on ring: Ring, group: Int32) throws(SystemError) {
        self.ring = try ring.makeBufferRing(count: count, size: size, group: group)
    }

    /// At exit: the buffer ring is unregistered.
    mutating func unregister() { ring = nil }

    /// Buffer `id`, just received with `bytes` in it, joins the end of `queue`.
    @inline(__always) func append(_ id: Int, bytes: Int32, to queue: inout ReceiveQueue) {
        length[id] = bytes
        next[id] = -1
        if queue.tail >= 0 { next[Int(queue.tail)] = Int32(id) } else { queue.head = Int32(id) }
        queue.tail = Int32(id)
    }

    /// The unread part of the queue's oldest buffer.
    @inline(__always) func unread(_ queue: ReceiveQueue) -> UnsafeRawBufferPointer? {
        guard queue.head >= 0 else { return nil }
        let id = Int(queue.head)
        return UnsafeRawBufferPointer(start: ring!.buffer(id) + queue.headConsumed, count: Int(length[id]) - queue.headConsumed)
    }

    /// `bytes` of the oldest buffer were read; a buffer read to its end goes back to the kernel.
    @inline(__always) mutating func consume(_ bytes: Int, from queue: inout ReceiveQueue) {
        guard bytes > 0 else { return }
        let id = Int(queue.head)
        queue.headConsumed += bytes
        precondition(queue.headConsumed <= Int(length[id]), "consumed past a receive buffer")
        guard queue.headConsumed == Int(length[id]) else { return }
        queue.head = next[id]
        if queue.head < 0 { queue.tail = -1 }
        queue.headConsumed = 0
        recycle(id)
    }

    /// Gives buffer `id` back to the kernel unread (a connection whose bytes are dropped).
    @inline(__always) mutating func recycle(_ id: Int) {
        ring!.recycle(id)
        recycled = true
    }

    /// Every buffer of `queue` goes back to the kernel unread.
    mutating func drop(_ queue: inout ReceiveQueue) {
        while queue.head >= 0 {
            let id = Int(queue.head)
            queue.head = next[id]
            recycle(id)
        }
        queue.tail = -1
        queue.headConsumed = 0
    }
}
