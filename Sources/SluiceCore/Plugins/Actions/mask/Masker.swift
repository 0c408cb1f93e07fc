import Glibc

/// The core of `mask`: every match of each pattern in a plain UTF-8 text replaced by a fixed
/// text or by a stable hash of the match, patterns applied one after the other (the second
/// sees what the first left). Writes into the caller's buffers; allocates nothing.
struct Masker {
    /// One per pattern, this worker's.
    let matchers: UnsafeMutablePointer<Unmanaged<RegexMatcher>>
    let matcherCount: Int
    let replacement: UnsafeRawBufferPointer
    let hashes: Bool

    /// Hex digits of a match's hash (XXH64).
    static let hashDigits = 16

    enum Result {
        /// No pattern matched: the text stays as it is.
        case unchanged
        /// The masked text (in one of the buffers).
        case masked(UnsafeRawBufferPointer)
        /// The masked text would pass the buffers' capacity.
        case overflow
        /// PCRE2 gave up on a search (a match, depth or JIT stack limit).
        case failed
    }

    /// Masks `text` using two buffers of `capacity` bytes each (`text` may be in neither).
    func mask(_ text: UnsafeRawBufferPointer, buffers: (UnsafeMutableRawPointer, UnsafeMutableRawPointer), capacity: Int) -> Result {
        var current = text
        var changed = false
        var useFirst = true
        for m in 0..<matcherCount {
            let out = useFirst ? buffers.0 : buffers.1
            let outcome = matchers[m]._withUnsafeGuaranteedRef { apply($0, to: current, into: out, capacity: capacity) }
            switch outcome {
            case .unchanged: continue
            case .masked(let masked):
                current = masked
                changed = true
                useFirst.toggle()
            case .overflow, .failed: return outcome
            }
        }
        return changed ? .masked(current) : .unchanged
    }

    /// One pattern: every non-overlapping match, left to right; an empty match replaces the
    /// empty text at its place and the search moves one character on.
    private func apply(_ matcher: RegexMatcher, to text: UnsafeRawBufferPointer, into out: UnsafeMutableRawPointer,
                       capacity: Int) -> Result {
        var subjectKind: Int32 = 0
        var position = 0
        var copied = 0
        var written = 0
        var matched = false
        @inline(__always) func put(_ bytes: UnsafeRawBufferPointer) -> Bool {
            guard written + bytes.count <= capacity else { return false }
            if bytes.count > 0 { (out + written).copyMemory(from: bytes.baseAddress!, byteCount: bytes.count) }
            written += bytes.count
            return true
        }
        while position <= text.count {
            switch matcher.match(text, from: position, subjectKind: &subjectKind) {
            case .notMatched: position = text.count + 1; continue
            case .failed: return .failed
            case .matched: break
            }
            guard let range = matcher.capture(0) else { return .failed }
            matched = true
            guard put(UnsafeRawBufferPointer(rebasing: text[copied..<range.lowerBound])) else { return .overflow }
            if hashes {
                guard written + Masker.hashDigits <= capacity else { return .overflow }
                Masker.writeHash(of: UnsafeRawBufferPointer(rebasing: text[range]), into: out + written)
                written += Masker.hashDigits
            } else {
                guard put(replacement) else { return .overflow }
            }
            copied = range.upperBound
            if range.isEmpty {
                guard range.upperBound < text.count else { break }
                position = range.upperBound + Masker.characterLength(text, at: range.upperBound, utf8: subjectKind == 1)
            } else {
                position = range.upperBound
            }
        }
        guard matched else { return .unchanged }
        guard put(UnsafeRawBufferPointer(rebasing: text[copied...])) else { return .overflow }
        return .masked(UnsafeRawBufferPointer(start: out, count: written))
    }

    /// Bytes of the character at `i` (1 in byte mode, or on a byte that starts no sequence).
    @inline(__always) static func characterLength(_ text: UnsafeRawBufferPointer, at i: Int, utf8: Bool) -> Int {
        guard utf8 else { return 1 }
        let c = text[i]
        let n = c < 0xC0 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4
        return min(n, text.count - i)
    }

    /// XXH64 (seed 0) of `bytes` as 16 lowercase hex digits, as `xxhsum -H1` prints it:
    /// stable across runs, versions and machines, so equal values mask to equal text. Not a
    /// secret: short values (phone numbers, card numbers) can be found again by trying them all.
    static func writeHash(of bytes: UnsafeRawBufferPointer, into out: UnsafeMutableRawPointer) {
        let h = XXHash64.hash(bytes)
        for k in 0..<hashDigits {
            let digit = UInt8(truncatingIfNeeded: h >> UInt64(60 - 4 * k)) & 15
            out.storeBytes(of: JSONText.hex(digit), toByteOffset: k, as: UInt8.self)
        }
    }
}

/// Masks every string value inside a raw JSON object or array (not the keys), copying the
/// rest as it is.
struct JSONStringMasker {
    let masker: Masker
    /// Unescaped string, and the two mask buffers; `capacity` bytes each.
    let scratch: UnsafeMutableRawPointer
    let buffers: (UnsafeMutableRawPointer, UnsafeMutableRawPointer)
    let capacity: Int

    /// Writes `json` (validated JSON text) with its string values masked into `out`; returns
    /// the masked text, nil when nothing matched, or the failure.
    func mask(_ json: UnsafeRawBufferPointer, into out: UnsafeMutableRawPointer, capacity outCapacity: Int) -> Masker.Result {
        var written = 0
        var copied = 0
        var changed = false
        var i = 0
        let n = json.count
        while i < n {
            guard json[i] == 34 else { i += 1; continue }
            // A string from i to its closing quote.
            var end = i + 1
            while end < n && json[end] != 34 { end += json[end] == 92 ? 2 : 1 }
            let stringEnd = min(end + 1, n)
            var after = stringEnd
            while after < n && (json[after] == 32 || json[after] == 9 || json[after] == 10 || json[after] == 13) { after += 1 }
            if after < n && json[after] == 58 { i = stringEnd; continue }  // a key
            let plain = plainText(ofString: UnsafeRawBufferPointer(rebasing: json[i..<stringEnd]), scratch: scratch, capacity: capacity)
            switch masker.mask(plain, buffers: buffers, capacity: capacity) {
            case .unchanged: break
            case .overflow: return .overflow
            case .failed: return .failed
            case .masked(let masked):
                let before = i - copied
                guard written + before + 2 <= outCapacity else { return .overflow }
                if before > 0 { (out + written).copyMemory(from: json.baseAddress! + copied, byteCount: before) }
                written += before
                out.storeBytes(of: 34, toByteOffset: written, as: UInt8.self)
                guard let e = JSONEscaper.escape(masked, into: out + written + 1, capacity: outCapacity - written - 2) else { return .overflow }
                written += e + 1
                out.storeBytes(of: 34, toByteOffset: written, as: UInt8.self)
                written += 1
                copied = stringEnd
                changed = true
            }
            i = stringEnd
        }
        guard changed else { return .unchanged }
        let rest = n - copied
        guard written + rest <= outCapacity else { return .overflow }
        if rest > 0 { (out + written).copyMemory(from: json.baseAddress! + copied, byteCount: rest) }
        written += rest
        return .masked(UnsafeRawBufferPointer(start: out, count: written))
    }
}
