/// The `nats` output's `subject`, cut at start-up into literal bytes and the decoded fields
/// whose values complete it per event (`logs.${service}`). Plain pointers, so a worker's copy
/// costs no reference counting on the event path.
struct NATSSubject {
    struct Piece {
        let literalStart: Int
        let literalLength: Int
        let field: FieldPath?
    }

    let literals: UnsafeMutableRawPointer
    let pieces: UnsafeMutablePointer<Piece>
    let pieceCount: Int

    init(_ text: String) throws(PluginArgumentError) {
        let template = try FieldTemplate.pieces(text, key: "subject")
        var made: [Piece] = []
        var bytes: [UInt8] = []
        for piece in template {
            var field: FieldPath?
            if let name = piece.field {
                do { field = try FieldPath(name, key: "subject") } catch {
                    for p in made { p.field?.dispose() }
                    throw error
                }
            }
            made.append(Piece(literalStart: bytes.count, literalLength: piece.literal.count, field: field))
            bytes += piece.literal
        }
        literals = .allocate(byteCount: max(bytes.count, 1), alignment: 1)
        literals.copyMemory(from: bytes, byteCount: bytes.count)
        pieces = .allocate(capacity: made.count)
        pieces.initialize(from: made, count: made.count)
        pieceCount = made.count
    }

    func dispose() {
        for i in 0..<pieceCount { pieces[i].field?.dispose() }
        pieces.deinitialize(count: pieceCount)
        pieces.deallocate()
        literals.deallocate()
    }

    /// Writes the subject of `event` at `out` (room for `NATSOutput.maxSubjectBytes`); returns
    /// its length. A field that is missing (or the event not decoded) or empty gives `_`, and a
    /// byte a subject token cannot hold (space, control, `.`, `*`, `>`) becomes `_`: each
    /// substitution stays one token. A value is cut where the subject reaches its limit.
    @inline(__always) func render(_ event: Event, into out: UnsafeMutableRawPointer, missing: inout Int) -> Int {
        let limit = NATSOutput.maxSubjectBytes
        var n = 0
        for i in 0..<pieceCount {
            let piece = pieces[i]
            let literal = min(piece.literalLength, limit - n)
            (out + n).copyMemory(from: literals + piece.literalStart, byteCount: literal)
            n += literal
            guard let field = piece.field else { continue }
            var value = UnsafeRawBufferPointer(start: nil, count: 0)
            if let (raw, kind) = EventEditor.lookup(event, field) {
                value = kind == .string && raw.count >= 2 ? UnsafeRawBufferPointer(rebasing: raw[1..<(raw.count - 1)]) : raw
            } else {
                missing += 1
            }
            if value.isEmpty {
                if n < limit {
                    out.storeBytes(of: 95, toByteOffset: n, as: UInt8.self)
                    n += 1
                }
                continue
            }
            for b in value where n < limit {
                let safe = b <= 32 || b == 127 || b == 46 || b == 42 || b == 62 ? 95 : b  // . * > → _
                out.storeBytes(of: safe, toByteOffset: n, as: UInt8.self)
                n += 1
            }
        }
        return n
    }
}
