import CSupport

/// One record of a disk-buffer segment, little-endian:
///
///     crc32c: u32 | length: u32 | sequence: u64 | wallNanos: u64 | payload: length bytes
///
/// `crc32c` covers everything after it (the rest of the header and the payload), so a torn or
/// flipped length, sequence or time is caught like a flipped payload byte. `sequence` grows by
/// one per record over the buffer's life (a dropped batch leaves a gap); `wallNanos` is when the
/// event was received (wall clock, so it survives a restart: the age of the oldest record and
/// the events' latency). The payload is the line the output writes, without its newline.
enum BufferRecord {
    static let headerBytes = 24
    static let checkedOffset = 4

    /// What a record's header says.
    struct Header: Equatable {
        var payloadBytes: Int
        var sequence: UInt64
        var wallNanos: UInt64
        var totalBytes: Int { BufferRecord.headerBytes + payloadBytes }
    }

    /// Which sequence numbers a record at some place may carry: after `after` (the record read
    /// before it), at least `atLeast` (its segment's first number), below `before` (what the
    /// buffer has not numbered yet, or the next segment's first number), and less than
    /// `maxGap` past the one before (or the segment's first). A corrupt header almost never
    /// lands in the window, so scanning for the next valid record computes few checksums.
    struct Window {
        var after: UInt64?
        var atLeast: UInt64
        var before: UInt64
        /// Numbers skipped by dropped batches are far fewer.
        static let maxGap: UInt64 = 1 << 32

        @inline(__always) func contains(_ sequence: UInt64) -> Bool {
            let base = after.map { $0 &+ 1 } ?? atLeast
            return sequence >= atLeast && sequence < before && sequence >= base && sequence &- base < Self.maxGap
        }
    }

    enum Check: Equatable {
        case valid(Header)
        /// A plausible header whose record does not fit in the bytes at hand (yet).
        case incomplete(needed: Int)
        /// Not a record: wrong checksum, impossible length or sequence.
        case invalid
    }

    /// Writes the header of the record whose payload (`payloadBytes` bytes) is already at
    /// `record + headerBytes`, checksum last.
    @inline(__always) static func seal(_ record: UnsafeMutableRawPointer, payloadBytes: Int, sequence: UInt64, wallNanos: UInt64) {
        record.storeBytes(of: UInt32(truncatingIfNeeded: payloadBytes).littleEndian, toByteOffset: 4, as: UInt32.self)
        record.storeBytes(of: sequence.littleEndian, toByteOffset: 8, as: UInt64.self)
        record.storeBytes(of: wallNanos.littleEndian, toByteOffset: 16, as: UInt64.self)
        let crc = sl_crc32c(0, record + checkedOffset, headerBytes - checkedOffset + payloadBytes)
        record.storeBytes(of: crc.littleEndian, toByteOffset: 0, as: UInt32.self)
    }

    /// Encodes the event as a record at `out` (room for `headerBytes` + the output's worst-case
    /// line); returns the record's length.
    @inline(__always) static func encode(_ event: Event, sequence: UInt64, wallNanos: UInt64, into out: UnsafeMutableRawPointer) -> Int {
        // The line's newline lands where the next record starts (overwritten) or past the end.
        let payload = EventEncoder.encodeLine(event, into: out + headerBytes) - 1
        seal(out, payloadBytes: payload, sequence: sequence, wallNanos: wallNanos)
        return headerBytes + payload
    }

    /// Whether a record starts at `start` (with `available` bytes there), its sequence number in
    /// `window` and its payload at most `maxPayloadBytes`.
    static func check(_ start: UnsafeRawPointer, available: Int, window: Window, maxPayloadBytes: Int) -> Check {
        guard available >= headerBytes else { return .incomplete(needed: headerBytes) }
        let length = Int(UInt32(littleEndian: start.loadUnaligned(fromByteOffset: 4, as: UInt32.self)))
        let sequence = UInt64(littleEndian: start.loadUnaligned(fromByteOffset: 8, as: UInt64.self))
        guard length <= maxPayloadBytes, window.contains(sequence) else { return .invalid }
        guard available >= headerBytes + length else { return .incomplete(needed: headerBytes + length) }
        let stored = UInt32(littleEndian: start.loadUnaligned(fromByteOffset: 0, as: UInt32.self))
        guard sl_crc32c(0, start + checkedOffset, headerBytes - checkedOffset + length) == stored else { return .invalid }
        let wallNanos = UInt64(littleEndian: start.loadUnaligned(fromByteOffset: 16, as: UInt64.self))
        return .valid(Header(payloadBytes: length, sequence: sequence, wallNanos: wallNanos))
    }

    /// Where the next record may start in `start..<start+available`, from `from` on: the first
    /// offset whose bytes are a valid record or (unless `final`: nothing follows the bytes at
    /// hand) a plausible one cut off by their end, which needs more bytes to tell; `available`
    /// when there is none.
    static func resynchronize(_ start: UnsafeRawPointer, available: Int, from: Int, window: Window, maxPayloadBytes: Int,
                              final: Bool = false) -> Int {
        var offset = from
        while offset < available {
            switch check(start + offset, available: available - offset, window: window, maxPayloadBytes: maxPayloadBytes) {
            case .valid: return offset
            case .incomplete: if !final { return offset }
            case .invalid: break
            }
            offset += 1
        }
        return available
    }
}
