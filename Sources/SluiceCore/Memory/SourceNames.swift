/// The name each file source of one worker gives its events, for actions that ask which file an
/// event came from (`add_file_name`): the file's path as a JSON string, by the source's index.
/// One table per slab (`Slab.sourceNames`), so any worker finds an event's name from its source
/// id with two loads, without asking the family that read it.
///
/// The owning worker writes an entry when a file source takes that index, before any event of
/// it is handed on (the hand-off to another worker orders the write before that worker's read).
/// An entry is replaced only when its index is reused, once every event of the previous source
/// came back (`FileFamily.takeSlot`), so no reader sees it change under an event.
public struct SourceNames {
    struct Entry {
        var bytes: UnsafeMutableRawPointer?
        var count: Int
    }

    let entries: UnsafeMutablePointer<Entry>
    /// Entries: one per source index a worker may hold.
    public static let capacity = SourceIDs.maxSourcesPerWorker

    init() {
        entries = .allocate(capacity: SourceNames.capacity)
        entries.initialize(repeating: Entry(bytes: nil, count: 0), count: SourceNames.capacity)
    }

    /// Names source `index` (the path, quoted and escaped once here), or unnames it (`nil`: a
    /// source without a file name, stdin). Only the slab's own worker calls this.
    func set(_ index: Int, path: String?) {
        precondition(index >= 0 && index < SourceNames.capacity, "source index past the name table")
        entries[index].bytes?.deallocate()
        entries[index] = Entry(bytes: nil, count: 0)
        guard let path else { return }
        let quoted = JSONText.quoted(path)
        let bytes = UnsafeMutableRawPointer.allocate(byteCount: quoted.count, alignment: 1)
        quoted.withUnsafeBytes { bytes.copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
        entries[index] = Entry(bytes: bytes, count: quoted.count)
    }

    /// Source `index`'s name as an encoded JSON string, or nil when it has none.
    @inline(__always) public func name(_ index: Int) -> UnsafeRawBufferPointer? {
        guard index < SourceNames.capacity, let bytes = entries[index].bytes else { return nil }
        return UnsafeRawBufferPointer(start: bytes, count: entries[index].count)
    }

    func dispose() {
        for i in 0..<SourceNames.capacity { entries[i].bytes?.deallocate() }
        entries.deinitialize(count: SourceNames.capacity)
        entries.deallocate()
    }
}
