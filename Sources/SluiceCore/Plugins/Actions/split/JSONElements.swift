/// Walking the elements of a JSON array the scanner already validated: where each element ends
/// and the next begins. Validity is assumed (the event was decoded), so this only tracks strings
/// and nesting; it never allocates.
enum JSONElements {
    @inline(__always) static func isSpace(_ c: UInt8) -> Bool { c == 32 || c == 9 || c == 10 || c == 13 }

    /// The first index at or after `i` that is not JSON whitespace.
    static func skipSpace(_ bytes: UnsafeRawBufferPointer, _ i: Int) -> Int {
        var i = i
        while i < bytes.count && isSpace(bytes[i]) { i += 1 }
        return i
    }

    /// The index just past the value starting at `i`.
    static func valueEnd(_ bytes: UnsafeRawBufferPointer, _ start: Int) -> Int {
        var i = start
        let c = bytes[i]
        if c == 34 { return stringEnd(bytes, i) }
        if c == 91 || c == 123 {
            var depth = 0
            while i < bytes.count {
                let b = bytes[i]
                if b == 34 {
                    i = stringEnd(bytes, i)
                    continue
                }
                if b == 91 || b == 123 { depth += 1 }
                if b == 93 || b == 125 {
                    depth -= 1
                    if depth == 0 { return i + 1 }
                }
                i += 1
            }
            return i
        }
        // A number or a literal: up to the next delimiter.
        while i < bytes.count {
            let b = bytes[i]
            if b == 44 || b == 93 || b == 125 || isSpace(b) { break }
            i += 1
        }
        return i
    }

    /// The index just past the string whose opening quote is at `start`.
    static func stringEnd(_ bytes: UnsafeRawBufferPointer, _ start: Int) -> Int {
        var i = start + 1
        while i < bytes.count {
            let b = bytes[i]
            if b == 92 {
                i += 2
                continue
            }
            if b == 34 { return i + 1 }
            i += 1
        }
        return i
    }
}
