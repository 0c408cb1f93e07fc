import Glibc

/// A field name given by the user (`user` or a dotted path `request.user.id`), kept as bytes
/// for lookups that allocate nothing. Plain pointers only (no String, no Array), so copying it
/// on the hot path costs no reference counting.
public struct FieldPath: @unchecked Sendable {
    /// UTF-8 bytes of every path component, back to back.
    let bytes: UnsafeMutableRawPointer
    /// (start, length) of each component in `bytes`.
    let components: UnsafeMutablePointer<(Int, Int)>
    let componentCount: Int

    public init(_ text: String) throws(PluginArgumentError) {
        guard !text.isEmpty else { throw PluginArgumentError(key: "field", "empty field name") }
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard !parts.contains(where: \.isEmpty) else { throw PluginArgumentError(key: "field", "'\(text)' has an empty path component") }
        let utf8 = Array(text.utf8)
        bytes = .allocate(byteCount: max(utf8.count, 1), alignment: 1)
        bytes.copyMemory(from: utf8, byteCount: utf8.count)
        components = .allocate(capacity: parts.count)
        componentCount = parts.count
        var start = 0
        for (i, p) in parts.enumerated() {
            components[i] = (start, p.utf8.count)
            start += p.utf8.count + 1
        }
    }

    var first: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: bytes + components[0].0, count: components[0].1) }

    /// The raw JSON value at this path in a decoded event, or nil; `kind` tells its type.
    public func lookup(_ event: Event) -> (value: UnsafeRawBufferPointer, kind: JSONValueKind)? {
        guard let top = event.fieldIndex(named: first) else { return nil }
        var value = event.value(top)
        var kind = event.fields[top].kind
        var i = 1
        while i < componentCount {
            guard kind == .object else { return nil }
            let c = components[i]
            guard let m = JSONScanner.member(named: UnsafeRawBufferPointer(start: bytes + c.0, count: c.1), inObject: value) else { return nil }
            value = UnsafeRawBufferPointer(start: value.baseAddress! + m.offset, count: m.length)
            kind = m.kind
            i += 1
        }
        return (value, kind)
    }

    public var isTopLevel: Bool { componentCount == 1 }

    /// Frees the bytes; copies of this path (the actions' worker copies) share them, so only
    /// the owner of the definition calls this, once no copy is in use.
    public func dispose() {
        bytes.deallocate()
        components.deallocate()
    }
}
