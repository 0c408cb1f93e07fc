import CSupport

/// One io_uring instance owned by one worker thread: batched submissions, completions drained
/// into a preallocated array and handed out without allocation.
public final class Ring {
    @usableFromInline let raw: OpaquePointer
    /// The SL_RING_* flags the kernel accepted (SINGLE_ISSUER may be refused on old kernels).
    public let appliedFlags: UInt32
    public let entries: UInt32
    @usableFromInline let completions: UnsafeMutablePointer<sl_cqe>
    @usableFromInline let completionCapacity: Int

    public struct Options: Sendable {
        public var entries: UInt32 = 1024
        public var singleIssuer = true
        public var sqpollCPU: Int32? = nil
        public var sqpoll = false
        public init() {}
    }

    public init(_ options: Options) throws(SystemError) {
        var flags: UInt32 = 0
        if options.singleIssuer { flags |= UInt32(SL_RING_SINGLE_ISSUER) }
        if options.sqpoll { flags |= UInt32(SL_RING_SQPOLL) }
        var error: Int32 = 0
        var applied: UInt32 = 0
        guard let ring = sl_ring_create(options.entries, flags, options.sqpollCPU ?? -1, &error, &applied) else {
            throw SystemError(negated: error, operation: "io_uring_queue_init(\(options.entries) entries)")
        }
        raw = ring
        appliedFlags = applied
        entries = options.entries
        completionCapacity = Int(options.entries) * 4
        completions = .allocate(capacity: completionCapacity)
    }

    deinit {
        sl_ring_destroy(raw)
        completions.deallocate()
    }

    /// Free submission slots.
    @inlinable public var submissionSpace: Int { Int(sl_ring_sq_space(raw)) }

    /// Makes room when the SQ is full by submitting what is queued (no wait).
    @inlinable func makeRoom() {
        _ = sl_ring_submit_and_wait(raw, 0, 0)
    }

    @inlinable func prep(_ body: () -> Int32) {
        if body() == 0 { return }
        makeRoom()
        let retried = body()
        precondition(retried == 0, "io_uring submission queue still full after submit")
    }

    @inlinable public func read(fd: Int32, into buffer: UnsafeMutableRawPointer, count: Int, offset: UInt64, userData: UInt64) {
        prep { sl_prep_read(raw, fd, buffer, UInt32(count), offset, userData) }
    }

    @inlinable public func write(fd: Int32, from buffer: UnsafeRawPointer, count: Int, offset: UInt64, userData: UInt64) {
        prep { sl_prep_write(raw, fd, buffer, UInt32(count), offset, userData) }
    }

    @inlinable public func writev(fd: Int32, vectors: UnsafePointer<iovec>, count: Int, offset: UInt64, userData: UInt64) {
        prep { sl_prep_writev(raw, fd, vectors, UInt32(count), offset, userData) }
    }

    @inlinable public func fsync(fd: Int32, dataOnly: Bool, userData: UInt64) {
        prep { sl_prep_fsync(raw, fd, dataOnly ? 1 : 0, userData) }
    }

    @inlinable public func acceptMultishot(fd: Int32, userData: UInt64) {
        prep { sl_prep_accept_multishot(raw, fd, userData) }
    }

    @inlinable public func receiveMultishot(fd: Int32, bufferGroup: Int32, userData: UInt64) {
        prep { sl_prep_recv_multishot(raw, fd, bufferGroup, userData) }
    }

    /// One completion per datagram, each in a buffer of `bufferGroup` laid out as `header` says
    /// (read it back with `sl_recvmsg_parse`).
    public func receiveMessagesMultishot(fd: Int32, header: OpaquePointer, bufferGroup: Int32, userData: UInt64) {
        prep { sl_prep_recvmsg_multishot(raw, fd, header, bufferGroup, userData) }
    }

    @inlinable public func receive(fd: Int32, into buffer: UnsafeMutableRawPointer, count: Int, userData: UInt64) {
        prep { sl_prep_recv(raw, fd, buffer, UInt32(count), userData) }
    }

    /// `address` must stay valid until the next submit.
    public func connect(fd: Int32, address: UnsafeRawPointer, length: Int, userData: UInt64) {
        prep { sl_prep_connect(raw, fd, address, UInt32(length), userData) }
    }

    @inlinable public func send(fd: Int32, from buffer: UnsafeRawPointer, count: Int, userData: UInt64) {
        prep { sl_prep_send(raw, fd, buffer, UInt32(count), userData) }
    }

    /// Completes once `fd` is ready for `events` (POLLIN, POLLOUT; errors and hang-ups always
    /// complete it) with the ready events as the result: for sockets a library reads and
    /// writes itself, in its non-blocking mode.
    @inlinable public func poll(fd: Int32, events: Int16, userData: UInt64) {
        prep { sl_prep_poll_add(raw, fd, UInt32(UInt16(bitPattern: events)), userData) }
    }

    @inlinable public func timeout(nanoseconds: UInt64, userData: UInt64) {
        prep { sl_prep_timeout(raw, nanoseconds, userData) }
    }

    @inlinable public func close(fd: Int32, userData: UInt64) {
        prep { sl_prep_close(raw, fd, userData) }
    }

    @inlinable public func cancel(target: UInt64, userData: UInt64) {
        prep { sl_prep_cancel(raw, target, userData) }
    }

    @inlinable public func nop(userData: UInt64) {
        prep { sl_prep_nop(raw, userData) }
    }

    /// Opens `path` relative to the directory `directoryFD` (close-on-exec); the completion's
    /// result is the descriptor. `path` must stay valid until the completion.
    public func open(directoryFD: Int32, path: UnsafePointer<CChar>, flags: Int32, mode: UInt32, userData: UInt64) {
        prep { sl_prep_openat(raw, directoryFD, path, flags, mode, userData) }
    }

    /// Removes `path` relative to `directoryFD`; `path` must stay valid until the completion.
    public func unlink(directoryFD: Int32, path: UnsafePointer<CChar>, userData: UInt64) {
        prep { sl_prep_unlinkat(raw, directoryFD, path, userData) }
    }

    /// Renames `from` to `to`, both in `directoryFD` (replacing `to` atomically); both paths must
    /// stay valid until the completion.
    public func rename(directoryFD: Int32, from: UnsafePointer<CChar>, to: UnsafePointer<CChar>, userData: UInt64) {
        prep { sl_prep_renameat(raw, directoryFD, from, to, userData) }
    }

    /// Submits queued SQEs; waits for one completion up to `timeoutNanos` when `wait` is true
    /// (nil: no limit). A timeout or an interrupted wait is not an error.
    @inlinable public func submit(wait: Bool, timeoutNanos: Int64? = nil) throws(SystemError) {
        let rc = sl_ring_submit_and_wait(raw, wait ? 1 : 0, timeoutNanos ?? -1)
        if rc < 0 && rc != -ETIME_ && rc != -EINTR_ && rc != -EBUSY_ && rc != -EAGAIN_ {
            throw SystemError(negated: rc, operation: "io_uring_enter")
        }
    }

    /// Calls `handle` for every ready completion (in batches of the preallocated array) and
    /// returns how many there were.
    @inlinable @discardableResult
    public func drainCompletions(_ handle: (_ userData: UInt64, _ result: Int32, _ flags: UInt32) -> Void) -> Int {
        var total = 0
        while true {
            let n = Int(sl_ring_drain(raw, completions, UInt32(completionCapacity)))
            for i in 0..<n {
                let c = completions[i]
                handle(c.user_data, c.res, c.flags)
            }
            total += n
            if n < completionCapacity { return total }
        }
    }

    /// Registers a provided-buffer ring for multishot receives.
    public func makeBufferRing(count: Int, size: Int, group: Int32) throws(SystemError) -> BufferRing {
        precondition(count > 0 && count & (count - 1) == 0, "buffer ring count must be a power of two")
        var error: Int32 = 0
        guard let raw = sl_bufring_create(raw, UInt32(count), UInt32(size), group, &error) else {
            throw SystemError(negated: error, operation: "io_uring_register_buf_ring(\(count)x\(size) B)")
        }
        return BufferRing(raw: raw, ring: self, count: count, size: size, group: group)
    }
}

/// A group of kernel-provided receive buffers (IORING_REGISTER_PBUF_RING).
public final class BufferRing {
    @usableFromInline let raw: OpaquePointer
    let ring: Ring
    public let count: Int
    public let size: Int
    public let group: Int32

    init(raw: OpaquePointer, ring: Ring, count: Int, size: Int, group: Int32) {
        self.raw = raw
        self.ring = ring
        self.count = count
        self.size = size
        self.group = group
    }

    deinit { sl_bufring_destroy(ring.raw, raw) }

    @inlinable public func buffer(_ id: Int) -> UnsafeMutableRawPointer {
        sl_bufring_buffer(raw, UInt32(id))
    }

    /// Returns buffer `id` to the kernel after its bytes were consumed.
    @inlinable public func recycle(_ id: Int) {
        sl_bufring_recycle(raw, UInt32(id))
    }
}

/// Completion flag helpers.
public enum CompletionFlags {
    @inlinable public static func hasMore(_ flags: UInt32) -> Bool { flags & UInt32(SL_CQE_F_MORE) != 0 }
    @inlinable public static func bufferID(_ flags: UInt32) -> Int? {
        flags & UInt32(SL_CQE_F_BUFFER) != 0 ? Int(flags >> UInt32(SL_CQE_BUFFER_SHIFT)) : nil
    }
}

// errno values as Int32 constants usable in @inlinable code.
@usableFromInline let ETIME_: Int32 = 62
@usableFromInline let EINTR_: Int32 = 4
@usableFromInline let EBUSY_: Int32 = 16
@usableFromInline let EAGAIN_: Int32 = 11
