/// Reads Elasticsearch's answer to a bulk request as its body arrives, in pieces, in memory
/// allocated once: `errors`, and for each of `items` (in the order of the request's actions)
/// its `status` and its `error`'s `type` and `reason` (or `error` itself when it is a string,
/// as Elasticsearch before 5 wrote it):
///
///     {"took":3,"errors":true,"items":[{"index":{"_index":"logs","status":201,…}},
///      {"index":{"_index":"logs","status":400,"error":{"type":"mapper_parsing_exception",
///      "reason":"failed to parse field [n] of type [long]…","caused_by":{…}}}}, …]}
///
/// A byte-at-a-time JSON walk that keeps only a depth, a bit per level (array or object), the
/// key just read where it matters, and the text of failed items (each cut to a bound, all of
/// them to a total). Everything else is skipped. A body that is not this shape, nests deeper
/// than `maxDepth`, or holds more items than the request had events is reported as such, never
/// read past its bounds.
struct BulkResponseReader {
    /// Deepest nesting followed (Elasticsearch's answers nest about 8 deep with `caused_by`).
    static let maxDepth = 48
    /// Per failed item: the bytes of its error type and of its reason kept.
    static let kindBytesLimit = 96
    static let messageBytesLimit = 600
    /// All failed items together.
    static let textBytesLimit = 64 << 10

    enum Outcome {
        /// `"errors":false`: every item succeeded.
        case allAccepted
        case items(ItemVerdicts)
        case malformed(StaticString)
    }

    private enum Mode: UInt8 { case value, valueOrClose, key, keyOrClose, colon, afterValue, string, stringEscape, literal, end }
    /// Keys that matter, by the depth of the object they are read in (see `relevant`).
    private enum Key: UInt8 { case other, errors, items, status, error, type, reason }
    private enum Capture: UInt8 { case none, kind, message }
    private enum Literal: UInt8 { case other, errors, status }

    let capacity: Int
    private let verdicts: UnsafeMutablePointer<ItemVerdicts.Verdict>
    private let reasons: UnsafeMutablePointer<ItemVerdicts.Reason>
    private let text: UnsafeMutableRawPointer
    private var textUsed = 0
    /// Items seen (may pass `capacity`: then they are only counted).
    private(set) var itemCount = 0
    /// `errors`: 0 not seen, 1 false, 2 true.
    private var errorsFlag: UInt8 = 0
    private var problem: StaticString?
    private var finished = false

    private var mode = Mode.value
    private var depth = 0
    /// Bit d-1: the container at depth d is an array.
    private var arrays: UInt64 = 0
    /// The depth down to which the open containers are the path that matters: 1 the answer,
    /// 2 its `items` array, 3 an item, 4 the item's action object, 5 that object's `error`.
    private var relevant = 0
    private var key = Key.other
    private var inKey = false
    private var keyPacked: UInt64 = 0
    private var keyLength = 0
    private var keyEscaped = false
    private var capture = Capture.none
    private var captureLength = 0
    private var literal = Literal.other
    private var literalFirst: UInt8 = 0
    private var number = 0
    private var digits = 0
    /// The item being read (nil past `capacity`).
    private var item: Int?

    init(capacity: Int) {
        self.capacity = max(capacity, 1)
        verdicts = .allocate(capacity: self.capacity)
        reasons = .allocate(capacity: self.capacity)
        reasons.initialize(repeating: ItemVerdicts.Reason(), count: self.capacity)
        text = .allocate(byteCount: Self.textBytesLimit, alignment: 16)
    }

    func deallocate() {
        verdicts.deallocate()
        reasons.deallocate()
        text.deallocate()
    }

    /// Ready for the next answer.
    mutating func reset() {
        textUsed = 0
        itemCount = 0
        errorsFlag = 0
        problem = nil
        finished = false
        mode = .value
        depth = 0
        arrays = 0
        relevant = 0
        key = .other
        inKey = false
        capture = .none
        literal = .other
        item = nil
    }

    /// What the body read so far says (called once the whole body is in).
    func outcome() -> Outcome {
        if errorsFlag == 1 { return .allAccepted }  // the rest was not read (`feed`)
        if let problem { return .malformed(problem) }
        guard finished else { return .malformed("the body ended before its JSON object did") }
        guard itemCount <= capacity else { return .malformed("more items than the request had events") }
        for i in 0..<itemCount {
            let status = reasons[i].status
            verdicts[i] = (200...299).contains(status) ? .accepted : (status == 429 || status >= 500 || status == 0 ? .retry : .rejected)
        }
        return .items(ItemVerdicts(count: itemCount, verdicts: verdicts, reasons: reasons, text: UnsafeRawPointer(text)))
    }

    // MARK: Reading

    /// The next `count` bytes of the body. Once `"errors":false` was read, nothing more is:
    /// Elasticsearch writes it before the items, and it says every item succeeded.
    mutating func feed(_ bytes: UnsafeRawPointer, _ count: Int) {
        let p = bytes.assumingMemoryBound(to: UInt8.self)
        var i = 0
        while i < count && problem == nil && errorsFlag != 1 {
            switch mode {
            case .string:
                var j = i
                while j < count && p[j] != 34 && p[j] != 92 { j += 1 }
                take(p + i, j - i)
                if j == count { return }
                if p[j] == 92 {
                    take(p + j, 1)
                    mode = .stringEscape
                } else {
                    endString()
                }
                i = j + 1
            case .stringEscape:
                take(p + i, 1)
                if inKey { keyEscaped = true }
                mode = .string
                i += 1
            case .literal:
                let c = p[i]
                if (c >= 48 && c <= 57) || (c >= 97 && c <= 122) || c == 45 || c == 43 || c == 46 || (c >= 65 && c <= 90) {
                    if literal == .status && c >= 48 && c <= 57 && digits < 4 {
                        number = number * 10 + Int(c - 48)
                        digits += 1
                    }
                    i += 1
                } else {
                    endLiteral()  // `c` is read again as what follows the value
                }
            default:
                let c = p[i]
                i += 1
                if c == 32 || c == 10 || c == 13 || c == 9 { continue }
                structural(c)
            }
        }
    }

    private mutating func structural(_ c: UInt8) {
        switch mode {
        case .value, .valueOrClose:
            if c == 93 && mode == .valueOrClose {
                close(array: true)
                return
            }
            startValue(c)
        case .keyOrClose, .key:
            if c == 125 && mode == .keyOrClose {
                close(array: false)
            } else if c == 34 {
                inKey = true
                keyPacked = 0
                keyLength = 0
                keyEscaped = false
                mode = .string
            } else {
                problem = "expected a key"
            }
        case .colon:
            if c == 58 { mode = .value } else { problem = "expected a colon" }
        case .afterValue:
            let inArray = arrays & (1 << UInt64(depth - 1)) != 0
            if c == 44 {
                mode = inArray ? .value : .key
            } else if (c == 93 && inArray) || (c == 125 && !inArray) {
                close(array: inArray)
            } else {
                problem = "expected a comma or the end of a container"
            }
        case .end:
            problem = "bytes after the answer's JSON object"
        case .string, .stringEscape, .literal:
            preconditionFailure("structural byte read inside a string or literal")
        }
    }

    private mutating func startValue(_ c: UInt8) {
        guard depth > 0 || c == 123 else {
            problem = "not a JSON object"
            return
        }
        if depth == 2 && relevant == 2 {
            // An element of `items`: the next item.
            item = itemCount < capacity ? itemCount : nil
            if let item { reasons[item] = ItemVerdicts.Reason() }
            itemCount += 1
        }
        switch c {
        case 123: open(array: false)
        case 91: open(array: true)
        case 34:
            inKey = false
            capture = .none
            if relevant == depth, let item {
                if depth == 4 && key == .error && reasons[item].messageLength == 0 { capture = .message }
                if depth == 5 && key == .type && reasons[item].kindLength == 0 { capture = .kind }
                if depth == 5 && key == .reason && reasons[item].messageLength == 0 { capture = .message }
                if capture != .none { beginCapture() }
            }
            mode = .string
        case 45, 48...57, 116, 102, 110:
            literal = .other
            if relevant == depth && depth == 1 && key == .errors { literal = .errors }
            if relevant == depth && depth == 4 && key == .status { literal = .status }
            literalFirst = c
            number = 0
            digits = 0
            if literal == .status && c >= 48 && c <= 57 {
                number = Int(c - 48)
                digits = 1
            }
            mode = .literal
        default:
            problem = depth == 0 ? "not a JSON object" : "unexpected byte where a value goes"
        }
    }

    private mutating func open(array: Bool) {
        guard depth < Self.maxDepth else {
            problem = "nested deeper than the reader follows"
            return
        }
        let parent = depth
        depth += 1
        if array { arrays |= 1 << UInt64(depth - 1) } else { arrays &= ~(1 << UInt64(depth - 1)) }
        if relevant == parent {
            switch parent {
            case 0: relevant = 1
            case 1 where key == .items && array: relevant = 2
            case 2 where !array: relevant = 3
            case 3 where !array: relevant = 4
            case 4 where key == .error && !array: relevant = 5
            default: break
            }
        }
        key = .other
        mode = array ? .valueOrClose : .keyOrClose
    }

    private mutating func close(array: Bool) {
        if relevant == depth { relevant -= 1 }
        depth -= 1
        key = .other
        if depth == 0 {
            finished = true
            mode = .end
        } else {
            mode = .afterValue
        }
    }

    private mutating func endString() {
        if inKey {
            key = keyEscaped || relevant != depth ? .other : Self.key(keyPacked, keyLength, depth: depth)
            mode = .colon
            return
        }
        if capture != .none, let item {
            switch capture {
            case .kind: reasons[item].kindLength = UInt16(captureLength)
            case .message: reasons[item].messageLength = UInt16(captureLength)
            case .none: break
            }
        }
        capture = .none
        mode = .afterValue
    }

    private mutating func endLiteral() {
        switch literal {
        case .errors: errorsFlag = literalFirst == 116 ? 2 : 1
        case .status:
            if let item, digits >= 1 && digits <= 3 { reasons[item].status = UInt16(number) }
        case .other: break
        }
        literal = .other
        mode = .afterValue
    }

    // MARK: Keys and kept text

    /// Bytes of a string: the first 8 of a key packed for comparison; a captured value's kept.
    @inline(__always) private mutating func take(_ p: UnsafePointer<UInt8>, _ n: Int) {
        if inKey {
            var k = 0
            while k < n && keyLength < 8 {
                keyPacked = keyPacked << 8 | UInt64(p[k])
                keyLength += 1
                k += 1
            }
            keyLength += n - k  // longer keys only need to be known as longer
            return
        }
        guard capture != .none else { return }
        let limit = capture == .kind ? Self.kindBytesLimit : Self.messageBytesLimit
        let room = min(limit - captureLength, Self.textBytesLimit - textUsed)
        let m = min(n, room)
        if m > 0 {
            (text + textUsed).copyMemory(from: p, byteCount: m)
            textUsed += m
            captureLength += m
        }
    }

    private mutating func beginCapture() {
        captureLength = 0
        guard let item else { return }
        if capture == .kind { reasons[item].kindStart = UInt32(textUsed) } else { reasons[item].messageStart = UInt32(textUsed) }
    }

    static func packed(_ text: StaticString) -> UInt64 {
        var v: UInt64 = 0
        for k in 0..<text.utf8CodeUnitCount { v = v << 8 | UInt64(text.utf8Start[k]) }
        return v
    }

    private static let errorsKey = packed("errors"), itemsKey = packed("items"), statusKey = packed("status")
    private static let errorKey = packed("error"), typeKey = packed("type"), reasonKey = packed("reason")

    /// The key that matters at `depth` (1: the answer; 4: an item's action object; 5: its error).
    private static func key(_ packed: UInt64, _ length: Int, depth: Int) -> Key {
        switch (depth, length) {
        case (1, 6) where packed == errorsKey: .errors
        case (1, 5) where packed == itemsKey: .items
        case (4, 6) where packed == statusKey: .status
        case (4, 5) where packed == errorKey: .error
        case (5, 4) where packed == typeKey: .type
        case (5, 6) where packed == reasonKey: .reason
        default: .other
        }
    }
}
