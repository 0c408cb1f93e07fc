/// A fixed-capacity list of event handles, reused for every batch (never grows).
public struct EventBatch {
    public let handles: UnsafeMutablePointer<EventHandle>
    public let capacity: Int
    public var count: Int = 0

    public init(capacity: Int) {
        self.capacity = capacity
        handles = .allocate(capacity: capacity)
    }

    public func deallocate() { handles.deallocate() }

    public var isFull: Bool { count == capacity }
    public var isEmpty: Bool { count == 0 }

    public mutating func append(_ handle: EventHandle) {
        precondition(count < capacity, "event batch over capacity")
        handles[count] = handle
        count += 1
    }

    public subscript(i: Int) -> EventHandle { handles[i] }
}
