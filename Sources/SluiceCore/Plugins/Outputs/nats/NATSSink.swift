import CSupport
import Glibc

/// `nats`'s sink on one worker. It writes each event into the batch buffer as a message record
/// (subject, payload, Nats-Msg-Id: `sl_nats.h`), hands a full buffer to its C publisher (one
/// thread of its own plus libnats' threads: `CSupport/nats_publisher.c`) and learns from it
/// when every message of the buffer has its PubAck: the publisher stores the buffer's
/// generation as confirmed and writes an eventfd, which this sink keeps a read on in the
/// worker's ring. The worker's side is plain stores and loads, and one eventfd read per
/// confirmed buffer; no lock, no libnats call.
struct NATSSink {
    let publisher: OpaquePointer
    let wakeFD: Int32
    /// The eventfd read's 8 bytes. Not freed with the sink: a read may still be in flight when a
    /// reload disposes it (8 bytes per disposed output).
    let wakeBuffer: UnsafeMutablePointer<UInt64>
    /// Tells this sink's eventfd completions from those of a sink a reload replaced.
    let tag: Int
    var notifyArmed = false
    /// Per buffer: the generation of its last hand-off.
    var generations: (UInt64, UInt64) = (0, 0)
    let subject: NATSSubject
    /// `id-prefix` and the per-sink random part of ids of events without a stable source.
    let idPrefix: UnsafeMutableRawBufferPointer
    let runNonce: UInt64
    /// The next id number of such events.
    let sequence: UnsafeMutablePointer<UInt64>
    /// The publisher's counters as last turned into metrics, and the server's max_payload.
    var seen = sl_nats_publisher_stats()
    var maxPayloadBytes = NATSSink.defaultMaxPayloadBytes
    var outageLogged = false

    /// NATS' default max_payload, assumed until the server says.
    static let defaultMaxPayloadBytes = 1 << 20
    /// Bytes a record adds to the encoded event, at most: its header, subject and id.
    static let recordOverheadBytes = Int(SL_NATS_RECORD_HEADER_BYTES) + NATSOutput.maxSubjectBytes + NATSOutput.maxIDBytes
    /// Tags handed out so far (sinks are made on the control thread and, at a reload, on workers).
    nonisolated(unsafe) private static let tags: UnsafeMutablePointer<UInt64> = {
        let p = UnsafeMutablePointer<UInt64>.allocate(capacity: 1)
        p.initialize(to: 0)
        return p
    }()

    init(_ definition: NATSOutput, batchSize: Int) {
        var fd = sl_wake_fd()
        precondition(fd >= 0, "nats output: cannot make an eventfd: \(SystemError.lastErrno("eventfd"))")
        wakeFD = fd
        wakeBuffer = .allocate(capacity: 1)
        tag = Int(sl_fetch_add(NATSSink.tags, 1) & 0x7FFF)
        do { subject = try NATSSubject(definition.subject) } catch { preconditionFailure("the definition checked the subject: \(error)") }
        let prefix = Array(definition.idPrefix.utf8)
        idPrefix = .allocate(byteCount: prefix.count, alignment: 1)
        idPrefix.copyBytes(from: prefix)
        runNonce = UInt64.random(in: 1...UInt64.max)
        sequence = .allocate(capacity: 1)
        sequence.initialize(to: 0)
        var options = sl_nats_publisher_options()
        var error = [CChar](repeating: 0, count: 256)
        let started: OpaquePointer? = definition.servers.urls.withCString { servers in
            definition.stream.withCString { stream in
                (definition.createSubjects ?? "").withCString { create in
                    "sluice \(NATSServers.hostName) \(definition.stream)".withCString { name in
                        options.servers = servers
                        options.stream = stream
                        options.name = name
                        options.window = Int32(definition.window)
                        options.max_messages = Int32(batchSize)
                        options.ack_timeout_ms = Int64(definition.ackTimeoutMillis)
                        options.retry_ms = Int64(definition.retryWaitMillis)
                        options.reconnect_wait_ms = Int64(definition.servers.reconnectWaitMillis)
                        options.wake_fd = fd
                        options.create_subjects = definition.createSubjects == nil ? nil : create
                        options.replicas = Int32(definition.replicas)
                        return sl_nats_publisher_start(&options, &error, error.count)
                    }
                }
            }
        }
        guard let started else { preconditionFailure("nats output: \(NATSServers.text(error))") }
        publisher = started
        fd = -1
    }

    /// Bytes the record of `event` takes, at most, beyond its encoded line.
    static var overheadBytes: Int { recordOverheadBytes }

    // MARK: Per event

    /// Writes the message record of `event` at `out` (room for its worst-case line plus
    /// `recordOverheadBytes`); returns its length, or nil when the payload is over the server's
    /// max_payload (the batcher rejects the event).
    @inline(__always) func encode(_ event: Event, into out: UnsafeMutableRawPointer, context: OutputContext) -> Int? {
        let header = Int(SL_NATS_RECORD_HEADER_BYTES)
        var missing = 0
        let subjectLength = subject.render(event, into: out + header, missing: &missing)
        if missing > 0 { context.count(.fieldMissing, missing) }
        let payload = out + header + subjectLength
        let payloadLength = EventEncoder.encodeLine(event, into: payload) - 1  // without its newline
        let idLength = writeID(event, payload: UnsafeRawBufferPointer(start: payload, count: payloadLength),
                               into: payload + payloadLength, context: context)
        // The server's max_payload counts the headers (the id, the expected stream) too.
        guard payloadLength + idLength + 160 <= maxPayloadBytes else { return nil }
        out.storeBytes(of: UInt16(subjectLength), as: UInt16.self)
        out.storeBytes(of: UInt16(idLength), toByteOffset: 2, as: UInt16.self)
        out.storeBytes(of: UInt32(payloadLength), toByteOffset: 4, as: UInt32.self)
        return header + subjectLength + payloadLength + idLength
    }

    /// `PREFIX-IDENTITY-OFFSET-HASH` for an event of a source with a stable identity (the same
    /// line read again gets the same id, so JetStream drops it); `PREFIX-NONCE-N` otherwise
    /// (events of tcp, http, generator sources, or made by actions: unique to this sink and run).
    @inline(__always) func writeID(_ event: Event, payload: UnsafeRawBufferPointer, into out: UnsafeMutableRawPointer,
                                   context: OutputContext) -> Int {
        out.copyMemory(from: idPrefix.baseAddress!, byteCount: idPrefix.count)
        var n = idPrefix.count
        out.storeBytes(of: 45, toByteOffset: n, as: UInt8.self)
        n += 1
        let identity = event.has(EventFlags.derived) ? nil : context.sourceIdentity(of: event)
        if let identity {
            n += NATSSink.writeHex(identity, into: out + n)
            out.storeBytes(of: 45, toByteOffset: n, as: UInt8.self)
            n += 1
            n += Digits.write(event.header.pointee.offset, into: out + n)
            out.storeBytes(of: 45, toByteOffset: n, as: UInt8.self)
            n += 1
            // The content too: a file truncated and written again is not the same line at the
            // same offset, and must not be taken for a duplicate.
            n += NATSSink.writeHex(XXHash64.hash(payload), into: out + n)
        } else {
            n += NATSSink.writeHex(runNonce, into: out + n)
            out.storeBytes(of: 45, toByteOffset: n, as: UInt8.self)
            n += 1
            sequence.pointee &+= 1
            n += Digits.write(sequence.pointee, into: out + n)
        }
        return n
    }

    @inline(__always) static func writeHex(_ value: UInt64, into out: UnsafeMutableRawPointer) -> Int {
        for i in 0..<16 {
            let nibble = UInt8(truncatingIfNeeded: value >> UInt64(60 - 4 * i)) & 15
            out.storeBytes(of: nibble < 10 ? 48 + nibble : 87 + nibble, toByteOffset: i, as: UInt8.self)
        }
        return 16
    }

    // MARK: Per batch

    /// Gives buffer `b`'s records to the publisher (nothing is written through the ring).
    mutating func handOff(_ b: Int, records: UnsafeRawPointer, bytes: Int) {
        let generation = sl_nats_publisher_hand_off(publisher, Int32(b), records, bytes)
        if b == 0 { generations.0 = generation } else { generations.1 = generation }
    }

    /// Whether every message of buffer `b`'s last hand-off has its PubAck.
    @inline(__always) func confirmed(_ b: Int) -> Bool {
        sl_nats_publisher_confirmed(publisher, Int32(b), b == 0 ? generations.0 : generations.1) != 0
    }

    /// The eventfd read that says a hand-off was confirmed.
    mutating func armNotify(context: OutputContext) {
        guard !notifyArmed else { return }
        context.ring.read(fd: wakeFD, into: UnsafeMutableRawPointer(wakeBuffer), count: 8, offset: 0,
                          userData: context.userData(.outputNotify, tag: tag))
        notifyArmed = true
    }

    /// The eventfd read completed; false when it was a replaced sink's.
    mutating func notified(tag: Int, context: OutputContext) -> Bool {
        guard tag == self.tag else { return false }
        notifyArmed = false
        armNotify(context: context)
        return true
    }

    /// Every turn: keeps the eventfd read armed, turns the publisher's counters into metrics,
    /// and logs what went wrong (once per new error) and when it is connected again.
    mutating func tick(context: OutputContext) {
        armNotify(context: context)
        var now = sl_nats_publisher_stats()
        sl_nats_publisher_stats_read(publisher, &now)
        if now.republished != seen.republished { context.count(.natsRepublished, Int(now.republished &- seen.republished)) }
        if now.errors != seen.errors { context.count(.outputErrors, Int(now.errors &- seen.errors)) }
        if now.max_payload != 0 { maxPayloadBytes = Int(now.max_payload) }
        if now.error_sequence != seen.error_sequence {
            var text = [CChar](repeating: 0, count: 512)
            sl_nats_publisher_last_error(publisher, &text, text.count)
            Log.error(context.logName, NATSServers.text(text))
            outageLogged = true
        } else if outageLogged && now.connected == 1 && now.acknowledged != seen.acknowledged {
            Log.info(context.logName, "JetStream acknowledges again")
            outageLogged = false
        }
        seen = now
    }

    /// Stops the publisher (its thread and connection) and frees what the sink owns.
    func close() {
        sl_nats_publisher_stop(publisher)
        Glibc.close(wakeFD)
    }

    func dispose() {
        close()
        subject.dispose()
        idPrefix.deallocate()
        sequence.deallocate()
    }
}
