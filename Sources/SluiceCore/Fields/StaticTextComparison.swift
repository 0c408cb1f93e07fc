import Glibc

extension UnsafeRawBufferPointer {
    /// Whether these bytes are `text`'s (a keyword, a member name), without making a String.
    @inline(__always) func equals(_ text: StaticString) -> Bool {
        count == text.utf8CodeUnitCount && (count == 0 || memcmp(baseAddress!, text.utf8Start, count) == 0)
    }
}
