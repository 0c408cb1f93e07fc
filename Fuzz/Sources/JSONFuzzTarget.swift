import CSupport
import SluiceCore

/// `JSONScanner.scan` on arbitrary bytes (an exact-size copy, so AddressSanitizer sees any read
/// past the end), then what the pipeline does with its result:
/// - a valid outcome indexes at most the capacity, every key and value range lies inside the
///   text, in document order, keys right after a quote and values starting as their kind says;
/// - an invalid outcome points inside the text;
/// - the vector UTF-8 checks (Swift, and C with AVX2) agree with the sequence-by-sequence walk;
/// - the AVX2 string kernel, run on the document as a string body, stops where a byte-by-byte
///   walk stands (never inside an escape, never past a stop) and flags the escapes it skipped;
/// - `member(named:)` finds each indexed key again (and stays in bounds on invalid text);
/// - `json_decode` then `modify` then the output encoder turn a valid object into a line that
///   scans valid again and holds the new member.
///
/// Input layout: byte 0 picks the field capacity and the depth limit, the rest is the document.
enum JSONFuzzTarget {
    static let pool: EventPool = {
        let configuration = PoolConfiguration(capacity: 4, eventSizeBytes: 8192, maxEventSizeBytes: 4096, largeSlots: 0, maxFields: 16, hugePages: false)
        do { return try EventPool(configuration, placements: [.anyNode]) } catch { fatalError("fuzz pool: \(error)") }
    }()
    /// Counter blocks live as long as a node and cannot be freed: one for every input, read as deltas.
    nonisolated(unsafe) static let counters = CounterBlock(pipelines: 1)
    static let decode: Action = {
        do { return try Action.make(type: "json_decode", PluginArguments(plugin: "json_decode", pairs: []), maxEventBytes: 4096) } catch { fatalError("\(error)") }
    }()
    static let modify: Action = {
        let pairs = [(key: "field", value: "fuzz\"ed"), (key: "json-value", value: #"{"a":[1,"\u00e9"]}"#)]
        do { return try Action.make(type: "modify", PluginArguments(plugin: "modify", pairs: pairs), maxEventBytes: 4096) } catch { fatalError("\(error)") }
    }()

    static func run(_ input: UnsafeRawBufferPointer) {
        guard let first = input.first else { return }
        let capacity = Int(first & 15) + 1
        let maxDepth = first & 16 == 0 ? JSONScanner.defaultMaxDepth : Int(first >> 5) + 1
        let document = UnsafeMutableRawBufferPointer.allocate(byteCount: input.count - 1, alignment: 1)
        defer { document.deallocate() }
        document.copyMemory(from: UnsafeRawBufferPointer(rebasing: input[1...]))
        let text = UnsafeRawBufferPointer(document)
        // The vector UTF-8 check against the sequence-by-sequence walk.
        let invalidUTF8 = UTF8Validation.firstInvalidOffset(text)
        precondition(invalidUTF8 == UTF8Validation.firstInvalidOffsetByteByByte(text), "UTF-8 checks disagree: \(String(describing: invalidUTF8))")
        let vector = sl_utf8_check(text.baseAddress?.assumingMemoryBound(to: UInt8.self), text.count)
        precondition(vector == -1 || (vector == 1) == (invalidUTF8 == nil), "sl_utf8_check says \(vector), the walk \(String(describing: invalidUTF8))")
        if let start = text.baseAddress { checkStringKernel(start.assumingMemoryBound(to: UInt8.self), text.count) }
        let fields = UnsafeMutablePointer<FieldEntry>.allocate(capacity: capacity)
        defer { fields.deallocate() }

        switch JSONScanner.scan(text, fields: fields, fieldCapacity: capacity, maxDepth: maxDepth) {
        case .invalid(let offset, _):
            precondition(offset >= 0 && offset <= text.count, "invalid at \(offset) of \(text.count) bytes")
            if let key = text.first.map({ [$0] }) {
                key.withUnsafeBytes { _ = JSONScanner.member(named: $0, inObject: text) }
            }
        case .valid(let count, let truncated):
            precondition(count >= 0 && count <= capacity, "\(count) fields for a capacity of \(capacity)")
            precondition(!truncated || count == capacity, "fields truncated below the capacity")
            checkFields(fields, count: count, in: text)
            if text.count <= 4000 { checkPipeline(text, fieldCount: count, truncated: truncated) }
        }
    }

    /// The kernel's stop against a byte-by-byte walk over the same bytes.
    static func checkStringKernel(_ body: UnsafePointer<UInt8>, _ count: Int) {
        let result = sl_json_string_scan(body, count)
        let offset = Int(result & ~SL_JSON_SKIPPED_ESCAPE)
        guard offset > 0 else { return }  // no AVX2, or nothing skipped
        func isHex(_ c: UInt8) -> Bool { (c >= 0x30 && c <= 0x39) || (c | 0x20 >= 0x61 && c | 0x20 <= 0x66) }
        var i = 0
        var escaped = false
        while i < offset {
            let c = body[i]
            precondition(c != 0x22 && c >= 0x20, "string kernel skipped a stop at \(i) (stopped at \(offset))")
            if c == 0x5C {
                precondition(i + 1 < count, "string kernel skipped a backslash that ends the text")
                switch body[i + 1] {
                case 0x22, 0x5C, 0x2F, 0x62, 0x66, 0x6E, 0x72, 0x74: i += 2
                case 0x75:
                    precondition(i + 5 < count && (2...5).allSatisfy { isHex(body[i + $0]) }, "string kernel skipped a bad \\u escape at \(i)")
                    i += 6
                default: preconditionFailure("string kernel skipped a bad escape at \(i)")
                }
                escaped = true
            } else {
                i += 1
            }
        }
        precondition(i == offset, "string kernel stopped inside an escape at \(offset)")
        precondition((result & SL_JSON_SKIPPED_ESCAPE != 0) == escaped, "string kernel's escape flag is wrong at \(offset)")
        let c = offset < count ? body[offset] : 0
        precondition(count - offset < 32 || c == 0x22 || c < 0x20 || c == 0x5C, "string kernel stopped at a plain byte at \(offset)")
    }

    static func checkFields(_ fields: UnsafeMutablePointer<FieldEntry>, count: Int, in text: UnsafeRawBufferPointer) {
        var previousEnd = 0
        for i in 0..<count {
            let f = fields[i]
            let keyStart = Int(f.keyOffset), keyEnd = keyStart + Int(f.keyLength)
            let valueStart = Int(f.valueOffset), valueEnd = valueStart + Int(f.valueLength)
            precondition(keyStart >= 1 && keyEnd < valueStart && valueEnd <= text.count && f.valueLength > 0,
                         "field \(i): key \(keyStart)..<\(keyEnd), value \(valueStart)..<\(valueEnd) in \(text.count) bytes")
            precondition(keyStart > previousEnd, "field \(i) overlaps the previous one")
            precondition(text[keyStart - 1] == 34 && text[keyEnd] == 34, "field \(i): key not between quotes")
            let opening: [JSONValueKind: [UInt8]] = [.string: [34], .object: [123], .array: [91], .trueLiteral: [116], .falseLiteral: [102], .null: [110],
                                                     .number: Array("-0123456789".utf8)]
            precondition(opening[f.kind]?.contains(text[valueStart]) == true, "field \(i): value starts with \(text[valueStart]) for kind \(f.kind)")
            previousEnd = valueEnd
            if f.flags & FieldEntry.keyHasEscapes == 0 {
                let key = UnsafeRawBufferPointer(rebasing: text[keyStart..<keyEnd])
                guard let found = JSONScanner.member(named: key, inObject: text) else { preconditionFailure("field \(i): member(named:) does not find its key") }
                precondition(found.offset + found.length <= text.count, "member(named:) range out of bounds")
            }
        }
    }

    /// json_decode → modify → encode, as a worker and an output would.
    static func checkPipeline(_ text: UnsafeRawBufferPointer, fieldCount: Int, truncated: Bool) {
        let slab = pool.slabs
        guard let event = slab.pointee.take() else { preconditionFailure("fuzz pool exhausted: an event leaked") }
        let handle = event.header.pointee.handle
        defer { slab.pointee.release(handle) }
        if text.count > 0 { event.data.copyMemory(from: text.baseAddress!, byteCount: text.count) }
        event.setRecord(length: text.count)
        let invalidBefore = counters.read(.invalidJSON, pipeline: 0)
        var context = ActionContext(event: event, handle: event.header.pointee.handle, slab: slab)
        precondition(decode.apply(event, counters: counters, pipeline: 0, context: &context) == .pass)
        precondition(!event.has(EventFlags.invalidJSON) && counters.read(.invalidJSON, pipeline: 0) == invalidBefore, "json_decode rejects what the scanner accepted")
        // The scanner ran with `fieldCapacity` entries, json_decode with the event's 16.
        precondition(truncated ? event.fieldCount >= fieldCount : event.fieldCount == fieldCount, "json_decode indexed \(event.fieldCount) fields, the scanner \(fieldCount)")
        guard modify.apply(event, counters: counters, pipeline: 0, context: &context) == .pass else { return }
        // Moved to a large slot: that one goes back too (the framed slot by the defer above).
        let modified = context.event
        defer { if context.handle != handle { slab.pointee.release(context.handle) } }
        guard modified.has(EventFlags.modified) else { return }
        let header = modified.header.pointee
        let worstCase = Int(header.dataCapacity) + 4 * Int(header.fieldCapacity) + 4
        let line = UnsafeMutableRawBufferPointer.allocate(byteCount: worstCase, alignment: 1)
        defer { line.deallocate() }
        let length = EventEncoder.encodeLine(modified, into: line.baseAddress!)
        precondition(length >= 2 && length <= worstCase && line[length - 1] == 10, "encoded \(length) bytes, worst case \(worstCase)")
        let encoded = UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(line)[..<(length - 1)])
        let fields = UnsafeMutablePointer<FieldEntry>.allocate(capacity: 32)
        defer { fields.deallocate() }
        guard case .valid = JSONScanner.scan(encoded, fields: fields, fieldCapacity: 32) else {
            preconditionFailure("modify produced invalid JSON: \(String(decoding: encoded, as: UTF8.self))")
        }
        let key = Array("fuzz\"ed".utf8)
        let found = key.withUnsafeBytes { JSONScanner.member(named: $0, inObject: encoded) }
        precondition(found?.kind == .object, "the modified line lacks the new member: \(String(decoding: encoded, as: UTF8.self))")
    }
}
