/// A 32-bit name for an event slot: the slab (worker) in the top 8 bits, the slot below.
public typealias EventHandle = UInt32

public enum EventHandles {
    public static let slabShift: UInt32 = 24
    public static let slotMask: UInt32 = (1 << 24) - 1
    public static let maxSlotsPerSlab = Int(slotMask)
    public static let maxSlabs = 255
    @inlinable public static func make(slab: Int, slot: Int) -> EventHandle { UInt32(slab) << slabShift | UInt32(slot) }
    @inlinable public static func slab(_ handle: EventHandle) -> Int { Int(handle >> slabShift) }
    @inlinable public static func slot(_ handle: EventHandle) -> Int { Int(handle & slotMask) }
}

/// Bits of `EventHeader.flags`.
public enum EventFlags {
    /// The record was longer than max-event-size; the rest of it was dropped (counted).
    public static let cut: UInt16 = 1
    /// json_decode found the bytes not to be valid JSON; the event passes on unparsed.
    public static let invalidJSON: UInt16 = 2
    /// The field index holds the top-level members of a JSON object.
    public static let decoded: UInt16 = 4
    /// An action changed fields: outputs re-encode from the field index.
    public static let modified: UInt16 = 8
    /// The object had more members than the field index holds.
    public static let fieldsTruncated: UInt16 = 16
    /// The record ended without a newline (end of file, closed connection, shutdown).
    public static let partial: UInt16 = 32
    /// An action dropped the event; it waits in the output queue only to keep acks in order.
    public static let discarded: UInt16 = 64
    /// The decoded document is an object (fields can be added to it).
    public static let object: UInt16 = 128
}

/// The fixed header at the start of every slot; the field index and the data follow it.
@frozen public struct EventHeader {
    public var dataCapacity: UInt32
    public var rawLength: UInt32
    /// Raw bytes plus values appended by actions.
    public var usedLength: UInt32
    public var fieldCount: UInt16
    public var flags: UInt16
    public var fieldCapacity: UInt16
    public var pipelineID: UInt16
    public var sourceID: UInt32
    /// Offset in the source just past this record.
    public var offset: UInt64
    public var receivedNanos: UInt64
    public var handle: EventHandle
    /// 1 while taken from the pool, 0 while free: catches double releases.
    public var inUse: UInt32
    public var dataOffset: UInt32
    /// Bit o: the pipeline's output o writes this event (its route matched); the other outputs
    /// hold it only as a place in their queue, so acknowledgements stay in stream order.
    public var routes: UInt32
    /// Outputs whose acknowledgement is still awaited; the event is released at zero.
    public var pendingAcks: UInt32
    var reserved: UInt32
}

/// A typed view of one event slot; valid while the event is taken from the pool.
@frozen public struct Event {
    public let base: UnsafeMutableRawPointer

    @inlinable public init(base: UnsafeMutableRawPointer) { self.base = base }

    @inlinable public var header: UnsafeMutablePointer<EventHeader> { base.assumingMemoryBound(to: EventHeader.self) }

    @inlinable public var data: UnsafeMutableRawPointer { base + Int(header.pointee.dataOffset) }

    /// The bytes of the record as received (without the newline).
    @inlinable public var raw: UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(start: data, count: Int(header.pointee.rawLength))
    }

    @inlinable public var fields: UnsafeMutablePointer<FieldEntry> {
        (base + MemoryLayout<EventHeader>.stride).assumingMemoryBound(to: FieldEntry.self)
    }

    @inlinable public var fieldCount: Int { Int(header.pointee.fieldCount) }

    @inlinable public func has(_ flag: UInt16) -> Bool { header.pointee.flags & flag != 0 }

    @inlinable public func set(_ flag: UInt16) { header.pointee.flags |= flag }

    /// Bytes of field `index`'s key (still escaped) and value (raw JSON), relative to data.
    @inlinable public func key(_ index: Int) -> UnsafeRawBufferPointer {
        let f = fields[index]
        return UnsafeRawBufferPointer(start: data + Int(f.keyOffset), count: Int(f.keyLength))
    }

    @inlinable public func value(_ index: Int) -> UnsafeRawBufferPointer {
        let f = fields[index]
        return UnsafeRawBufferPointer(start: data + Int(f.valueOffset), count: Int(f.valueLength))
    }

    /// Appends bytes after the used part of the data area (for values set by actions); returns
    /// their offset, or nil when the slot is full.
    @inlinable public func append(_ bytes: UnsafeRawBufferPointer) -> UInt32? {
        let used = Int(header.pointee.usedLength)
        guard used + bytes.count <= Int(header.pointee.dataCapacity) else { return nil }
        if bytes.count > 0 { (data + used).copyMemory(from: bytes.baseAddress!, byteCount: bytes.count) }
        header.pointee.usedLength = UInt32(used + bytes.count)
        return UInt32(used)
    }

    /// Byte equality without a call for the short keys of log lines (memcmp beyond 16 bytes).
    @inlinable @inline(__always) static func sameBytes(_ a: UnsafeRawPointer, _ b: UnsafeRawPointer, _ count: Int) -> Bool {
        if count > 16 { return memcmp(a, b, count) == 0 }
        var i = 0
        while i + 8 <= count {
            if a.loadUnaligned(fromByteOffset: i, as: UInt64.self) != b.loadUnaligned(fromByteOffset: i, as: UInt64.self) { return false }
            i += 8
        }
        while i < count {
            if a.load(fromByteOffset: i, as: UInt8.self) != b.load(fromByteOffset: i, as: UInt8.self) { return false }
            i += 1
        }
        return true
    }

    /// Index of the first top-level field whose key equals `name` (plain bytes), or nil.
    @inlinable public func fieldIndex(named name: UnsafeRawBufferPointer) -> Int? {
        let count = fieldCount
        var i = 0
        while i < count {
            let f = fields[i]
            if f.flags & FieldEntry.keyHasEscapes == 0 {
                if Int(f.keyLength) == name.count && Event.sameBytes(data + Int(f.keyOffset), name.baseAddress!, name.count) { return i }
            } else if JSONScanner.rawStringEquals(key(i), name) {
                return i
            }
            i += 1
        }
        return nil
    }
}

import Glibc
