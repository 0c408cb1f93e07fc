import CSupport
import Glibc

/// One stream connection's TLS (tcp, syslog over TCP, http): an OpenSSL session whose BIO is
/// ours, so the bytes still move through the worker's ring. Received ciphertext is lent to
/// OpenSSL from the connection's `ReceiveQueue` only when the session needs more (it copies it
/// into its record buffer, and the receive buffer goes back to the kernel), the plaintext it
/// gives is kept here until the framing (or the HTTP parser) has read it all, and the ciphertext
/// it makes (handshake, answers, alerts) is sent in place from its output buffer by `flush`.
///
/// Bounded per connection: the output buffer (`outputBytes`, allocated on the first write),
/// OpenSSL's own record buffers, and `plaintextBytes` allocated once the handshake is complete
/// (a connection that never finishes its handshake costs no plaintext buffer).
/// Backpressure is the plain path's: while the pool is full the plaintext waits here, the
/// ciphertext in the connection's queue, and the kernel runs out of receive buffers.
///
/// Life cycle: `off` (a plain connection) or `handshaking` → `established` → `closed` (the peer
/// sent close_notify) or `failed` (a protocol error: its alert is still sent). `free` at close.
struct TLSSession {
    enum Phase: Equatable { case off, handshaking, established, closed, failed }

    /// The most a TLS record carries, so one read takes a whole record.
    static let plaintextBytes = 16 * 1024
    /// Ciphertext waiting to be sent: a whole record with its header and tag.
    static let outputBytes = 17 * 1024

    private(set) var phase = Phase.off
    private var raw: OpaquePointer? = nil
    private var plaintext: UnsafeMutableRawPointer? = nil
    private var plaintextStart = 0
    private var plaintextEnd = 0
    /// Ciphertext bytes of the send in flight (0: none).
    private var sending = 0
    /// The session's output was full: it goes on once a send made room.
    private var waitsForOutput = false
    /// A send failed (the peer is gone): nothing more is sent.
    private var outputBroken = false
    private var closeNotifyQueued = false
    private var handshakeStartNanos: UInt64 = 0

    init() {}

    /// A server session for a connection just accepted; nil when OpenSSL has no memory for it.
    init?(_ context: TLSServerContext, now: UInt64) {
        guard let session = sl_tls_create(context.raw, Self.outputBytes) else { return nil }
        raw = session
        phase = .handshaking
        handshakeStartNanos = now
    }

    var isOn: Bool { phase != .off }
    /// A send of `flush` is in flight: the connection must not close before it completes.
    var isSending: Bool { sending > 0 }
    /// Decrypted bytes wait to be read.
    var hasPlaintext: Bool { plaintextStart < plaintextEnd }

    /// Still in its handshake `timeoutNanos` after the connection was accepted.
    func handshakeExpired(now: UInt64, timeoutNanos: UInt64) -> Bool {
        phase == .handshaking && now &- handshakeStartNanos > timeoutNanos
    }

    /// At the connection's close (no send in flight): the session and its buffers are freed.
    mutating func free() {
        if let raw { sl_tls_free(raw) }
        plaintext?.deallocate()
        self = TLSSession()
    }

    // MARK: Reading

    /// The decrypted bytes not read yet; when there are none, ciphertext from `queue` is lent to
    /// the session (it takes as much as it needs) until a record decrypts. nil: nothing more for
    /// now — more ciphertext must arrive, the output must be sent first (`flush`), or the
    /// session ended (`phase`: closed or failed, counted and logged here).
    @inline(__always) mutating func readable(from queue: inout ReceiveQueue, _ buffers: inout ReceiveBuffers,
                                             _ context: InputContext, pipeline: Int) -> UnsafeRawBufferPointer? {
        if plaintextStart < plaintextEnd {
            return UnsafeRawBufferPointer(start: plaintext! + plaintextStart, count: plaintextEnd - plaintextStart)
        }
        return decrypt(from: &queue, &buffers, context, pipeline: pipeline)
    }

    /// `count` decrypted bytes were read.
    @inline(__always) mutating func consume(_ count: Int) {
        plaintextStart += count
        precondition(plaintextStart <= plaintextEnd, "consumed past the decrypted bytes")
    }

    /// Drops what was decrypted and not read (a connection that broke its framing).
    mutating func dropPlaintext() {
        plaintextStart = 0
        plaintextEnd = 0
    }

    mutating func decrypt(from queue: inout ReceiveQueue, _ buffers: inout ReceiveBuffers,
                          _ context: InputContext, pipeline: Int) -> UnsafeRawBufferPointer? {
        while !waitsForOutput {
            // OpenSSL copies what it needs of the oldest received buffer into its record buffer.
            let ciphertext = buffers.unread(queue)
            var used = 0
            let status: Int32
            switch phase {
            case .handshaking:
                status = sl_tls_handshake(raw, ciphertext?.baseAddress, ciphertext?.count ?? 0, &used)
                buffers.consume(used, from: &queue)
                if status == SL_TLS_OK {
                    phase = .established
                    context.counters.add(.tlsHandshakes, 1, pipeline: pipeline)
                    continue
                }
            case .established:
                if plaintext == nil { plaintext = .allocate(byteCount: Self.plaintextBytes, alignment: 64) }
                var made = 0
                status = sl_tls_read(raw, ciphertext?.baseAddress, ciphertext?.count ?? 0, &used, plaintext, Self.plaintextBytes, &made)
                buffers.consume(used, from: &queue)
                if status == SL_TLS_OK {
                    plaintextStart = 0
                    plaintextEnd = made
                    if made > 0 { return UnsafeRawBufferPointer(start: plaintext!, count: made) }
                    continue
                }
            case .off, .closed, .failed:
                return nil
            }
            switch Int(status) {
            case SL_TLS_WANT_READ:
                // It took all it was lent: the next received buffer, if there is one.
                guard ciphertext != nil, used > 0 else { return nil }
            case SL_TLS_WANT_WRITE:
                waitsForOutput = true
            case SL_TLS_CLOSED:
                phase = .closed
            default:
                fail(context, pipeline: pipeline)
            }
        }
        return nil
    }

    /// A protocol error: counted (a failed handshake, or a broken record after it), logged with
    /// OpenSSL's reason; the alert OpenSSL wrote is still sent.
    mutating func fail(_ context: InputContext, pipeline: Int) {
        let duringHandshake = phase == .handshaking
        phase = .failed
        var reason = [CChar](repeating: 0, count: 256)
        let length = reason.withUnsafeMutableBufferPointer { sl_tls_take_error(raw, $0.baseAddress, $0.count) }
        let text = String(decoding: reason.prefix(length).map { UInt8(bitPattern: $0) }, as: UTF8.self)
        if duringHandshake {
            context.counters.add(.tlsHandshakeFailures, 1, pipeline: pipeline)
            Log.warn("input tls", "a TLS handshake failed: \(text); closing that connection")
        } else {
            context.counters.add(.inputErrors, 1, pipeline: pipeline)
            Log.warn("input tls", "a TLS connection sent a record that does not decrypt: \(text); closing it")
        }
    }

    // MARK: Writing

    /// Encrypts as much of `bytes` as the session's output takes; the ciphertext waits for
    /// `flush`. 0: the output is full (flush, then write again), or the session failed.
    mutating func write(_ bytes: UnsafeRawBufferPointer, _ context: InputContext, pipeline: Int) -> Int {
        guard phase == .established, !outputBroken, bytes.count > 0 else { return 0 }
        var used = 0
        let status = sl_tls_write(raw, bytes.baseAddress, bytes.count, &used)
        if status == SL_TLS_OK { return used }
        if status != SL_TLS_WANT_WRITE { fail(context, pipeline: pipeline) }
        return 0
    }

    /// Queues close_notify after what was written (the connection closes once it is sent), or
    /// in answer to the peer's.
    mutating func queueCloseNotify() {
        guard phase == .established || phase == .closed, !closeNotifyQueued else { return }
        closeNotifyQueued = true
        sl_tls_shutdown(raw)
    }

    /// Sends the ciphertext waiting in the session's output through the ring, from where it
    /// lies, unless a send is in flight (one at a time per connection, so it goes out in
    /// order). True when a send is in flight after the call.
    mutating func flush(_ ring: Ring, fd: Int32, userData: UInt64) -> Bool {
        if sending > 0 { return true }
        guard let raw, !outputBroken else { return false }
        var bytes: UnsafeRawPointer? = nil
        let count = sl_tls_output(raw, &bytes)
        guard count > 0, let bytes else { return false }
        sending = count
        ring.send(fd: fd, from: bytes, count: count, userData: userData)
        return true
    }

    /// The send of `flush` completed with `result`; false when it failed (the peer is gone:
    /// nothing more is sent). A partial send leaves the rest for the next `flush`.
    mutating func sent(_ result: Int32) -> Bool {
        precondition(sending > 0, "a TLS send completed with none in flight")
        sending = 0
        guard result > 0 else {
            outputBroken = true
            return false
        }
        sl_tls_output_sent(raw, Int(result))
        waitsForOutput = false
        return true
    }
}

extension ReceiveBuffers {
    /// The next bytes of a connection's stream: as received, or over TLS as decrypted
    /// (`TLSSession.readable`).
    @inline(__always) mutating func readable(_ queue: inout ReceiveQueue, _ tls: inout TLSSession, _ context: InputContext,
                                             pipeline: Int) -> UnsafeRawBufferPointer? {
        tls.isOn ? tls.readable(from: &queue, &self, context, pipeline: pipeline) : unread(queue)
    }

    /// `count` bytes of what `readable` gave were read.
    @inline(__always) mutating func consume(_ count: Int, _ queue: inout ReceiveQueue, _ tls: inout TLSSession) {
        if tls.isOn { tls.consume(count) } else { consume(count, from: &queue) }
    }
}
