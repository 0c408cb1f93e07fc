/// Undoes `Transfer-Encoding: chunked` incrementally, over whatever pieces the body arrives in.
/// It consumes the framing itself (sizes, extensions, CRLFs, trailers) and points at the data;
/// the caller takes the data it can (`consumed(data:)`), so a reader stopped by a full pool
/// resumes inside a chunk. Bounded: a chunk size of more than 15 hex digits, a size or
/// trailer line longer than `maxLineBytes`, or a missing CRLF is malformed.
struct ChunkedDecoder: Equatable {
    static let maxLineBytes = 4096
    static let maxSizeDigits = 15

    enum State: Equatable {
        /// Hex digits of the next chunk's size.
        case size
        /// After the size: `;extension` up to the CR.
        case sizeExtension
        case sizeLF
        /// Inside a chunk's data.
        case data
        case dataCR
        case dataLF
        /// After the last (zero) chunk: a trailer line, or the final CRLF.
        case trailerStart
        case trailer
        case trailerLF
        case finalLF
        case done
    }

    enum Step {
        /// `framing` bytes were consumed; then `data` bytes (at most) of chunk data follow.
        case progress(framing: Int, data: Int)
        /// The body ended after `framing` more bytes.
        case done(framing: Int)
        case malformed(StaticString)
    }

    var state = State.size
    var remaining = 0
    var digits = 0
    var lineBytes = 0

    /// Consumes framing at the start of `bytes` until chunk data, the end, or the end of `bytes`.
    mutating func advance(_ bytes: UnsafeRawBufferPointer) -> Step {
        var i = 0
        while i < bytes.count {
            let b = bytes[i]
            switch state {
            case .data:
                return .progress(framing: i, data: min(remaining, bytes.count - i))
            case .size:
                if let v = Self.hexValue(b) {
                    digits += 1
                    guard digits <= Self.maxSizeDigits else { return .malformed("chunk size too large") }
                    remaining = remaining << 4 | v
                } else if digits == 0 {
                    return .malformed("chunk size expected")
                } else if b == 0x0D {
                    state = .sizeLF
                } else if b == 0x3B || b == 0x20 || b == 0x09 {
                    state = .sizeExtension
                    lineBytes = 0
                } else {
                    return .malformed("invalid chunk size")
                }
            case .sizeExtension:
                lineBytes += 1
                guard lineBytes <= Self.maxLineBytes else { return .malformed("chunk extension too long") }
                if b == 0x0D { state = .sizeLF } else if b == 0x0A { return .malformed("bare LF after a chunk size") }
            case .sizeLF:
                guard b == 0x0A else { return .malformed("CRLF expected after a chunk size") }
                digits = 0
                state = remaining == 0 ? .trailerStart : .data
            case .dataCR:
                guard b == 0x0D else { return .malformed("CRLF expected after chunk data") }
                state = .dataLF
            case .dataLF:
                guard b == 0x0A else { return .malformed("CRLF expected after chunk data") }
                state = .size
            case .trailerStart:
                if b == 0x0D { state = .finalLF } else { state = .trailer; lineBytes = 1 }
            case .trailer:
                lineBytes += 1
                guard lineBytes <= Self.maxLineBytes else { return .malformed("trailer too long") }
                if b == 0x0D { state = .trailerLF }
            case .trailerLF:
                guard b == 0x0A else { return .malformed("CRLF expected after a trailer") }
                state = .trailerStart
            case .finalLF:
                guard b == 0x0A else { return .malformed("CRLF expected at the end of the body") }
                state = .done
                return .done(framing: i + 1)
            case .done:
                return .done(framing: i)
            }
            i += 1
        }
        if state == .done { return .done(framing: i) }
        return .progress(framing: i, data: 0)
    }

    /// The caller used `count` bytes of the data `advance` pointed at.
    mutating func consumed(data count: Int) {
        precondition(state == .data && count <= remaining, "chunk data consumed beyond the chunk")
        remaining -= count
        if remaining == 0 { state = .dataCR }
    }

    static func hexValue(_ b: UInt8) -> Int? {
        switch b {
        case 0x30...0x39: Int(b - 0x30)
        case 0x41...0x46: Int(b - 0x41 + 10)
        case 0x61...0x66: Int(b - 0x61 + 10)
        default: nil
        }
    }
}
