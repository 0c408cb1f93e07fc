import Glibc

/// Which events of the buffer out a sink that answers (http, postgres) is sending: the range
/// `first..<end` of the batch's handles, and the ranges still to send after it. A batch goes
/// whole; when the server refuses it, the event it names is rejected and the lines around it
/// sent again (postgres), or the range is split in halves, each sent on its own, down to the
/// single events the server refuses (they go to the dead-letter file with its words); the
/// buffer is acknowledged once every range was answered. Preallocated: each split adds one
/// pending range; named refusals stack at most `stackCapacity / 2` deep, halving then adds at
/// most log2(batch size) + 1, so the stack never overflows.
struct RequestRanges {
    static let stackCapacity = 64
    var first = 0
    var end = 0
    let pending: UnsafeMutablePointer<(Int32, Int32)>
    var depth = 0

    init(batchSize: Int) {
        precondition(batchSize < 1 << 31, "batch size over the request ranges' bound")
        pending = .allocate(capacity: Self.stackCapacity)
    }

    func deallocate() { pending.deallocate() }

    mutating func reset(count: Int) {
        first = 0
        end = count
        depth = 0
    }

    /// Sends `first..<end` after the current range.
    mutating func push(_ first: Int, _ end: Int) {
        precondition(depth < Self.stackCapacity, "request ranges over their bound")
        pending[depth] = (Int32(first), Int32(end))
        depth += 1
    }

    /// Moves to the next pending range; false when none is left.
    mutating func next() -> Bool {
        guard depth > 0 else { return false }
        depth -= 1
        first = Int(pending[depth].0)
        end = Int(pending[depth].1)
        return true
    }
}

extension OutputBatcher {
    @inline(__always) func lineEnd(_ b: Int, _ i: Int) -> Int { Int(b == 0 ? lineEnds.0[i] : lineEnds.1[i]) }
    /// Where the line of the event at `i` starts (its predecessor's end).
    @inline(__always) func lineStart(_ b: Int, _ i: Int) -> Int { i == 0 ? 0 : lineEnd(b, i - 1) }

    /// Buffer `b` goes out: the whole batch first.
    mutating func startRequests(_ b: Int, context: OutputContext) {
        requests[b].reset(count: batch(b).count)
        sendRequest(b, context: context)
    }

    /// Sends the current range of buffer `b` (skipping ranges of placeholders only), or, when
    /// none is left, acknowledges the buffer.
    mutating func sendRequest(_ b: Int, context: OutputContext) {
        while true {
            let start = lineStart(b, requests[b].first)
            let end = lineEnd(b, requests[b].end - 1)
            if end > start {
                let lane = laneOf(b)
                if !(lane == 0 ? sink.isReady : secondLane!.isReady) {
                    move(b, to: .awaitingConnection)  // sent once connected
                    return
                }
                move(b, to: .writing(written: 0))
                if lane == 0 {
                    sink.write(from: buffer(b) + start, count: end - start, context: context)
                } else {
                    secondLane!.write(from: buffer(b) + start, count: end - start, context: context.onLane(1))
                }
                return
            }
            if !requests[b].next() {
                acknowledge(buffer: b, context: context)
                return
            }
        }
    }

    /// The buffer whose request waits for its answer.
    var answeredBuffer: Int {
        if states.0 == .awaitingResponse { return 0 }
        precondition(states.1 == .awaitingResponse, "HTTP answer without a request in flight")
        return 1
    }

    mutating func receiveCompleted(result: Int32, lane: Int, context: OutputContext) {
        let b = lanes == 2 ? lane : answeredBuffer
        precondition(state(b) == .awaitingResponse, "an answer without a request in flight on its lane")
        let response = lane == 0 ? sink.received(result: result, context: context) : secondLane!.received(result: result, context: context.onLane(1))
        switch response {
        case .incomplete:
            return
        case .accepted:
            writeRetry.succeeded()
            if errorLogged {
                Log.info(context.logName, "the server accepts again")
                errorLogged = false
            }
            nextRequest(b, context: context)
        case .retry(let afterNanos, let reason):
            retryRange(b, afterNanos: afterNanos, reason: reason, context: context)
        case .rejected(let reason, let line):
            rangeRejected(b, reason: reason, line: line, context: context)
        case .itemized(let items):
            itemsAnswered(b, items, context: context)
        case .connectionLost(let error):
            connectionLost(result: error, lane: lane, context: context)
        }
    }

    /// The current range is answered (or is to be sent again) after the backoff.
    mutating func retryRange(_ b: Int, afterNanos: UInt64 = 0, reason: @autoclosure () -> String, context: OutputContext) {
        context.count(.outputRetries, 1)
        context.count(.outputErrors, 1)
        writeRetry.failedWithJitter(now: context.now, limit: sink.retryMaxNanos)
        // Retry-After: not before the server asked, within the output's longest wait.
        if afterNanos > 0 { writeRetry.atNanos = context.now + min(max(afterNanos, writeRetry.atNanos - context.now), sink.retryMaxNanos) }
        move(b, to: .retrying(written: 0))
        if !errorLogged {
            Log.error(context.logName, "\(reason()); retrying with backoff, events held")
            errorLogged = true
        }
    }

    /// Moves the bytes of buffer `b` from `end` on down to `start` (the lines after the current
    /// range follow the lines kept in it), and their line ends with them.
    mutating func closeUp(_ b: Int, from end: Int, to start: Int) {
        let gap = end - start
        guard gap > 0 else { return }
        let used = usedBytes(b)
        if used > end { memmove(buffer(b) + start, buffer(b) + end, used - end) }
        let ends = b == 0 ? lineEnds.0 : lineEnds.1
        for i in requests[b].end..<batch(b).count { ends[i] -= Int32(truncatingIfNeeded: gap) }
        setUsed(b, used - gap)
    }

    /// The destination answered for each event of the current range (the i-th item is the
    /// i-th event with bytes): accepted events are done, refused ones go to the dead-letter
    /// file, and the lines of those to retry are moved together (the rest of the buffer closes
    /// up behind them), so the range, sent again after the backoff, carries only them. Done
    /// and refused events keep their place in the batch with no bytes, like placeholders, and
    /// are acknowledged with it. An answer whose items do not match the events is retried whole.
    mutating func itemsAnswered(_ b: Int, _ items: ItemVerdicts, context: OutputContext) {
        var lines = 0
        for i in requests[b].first..<requests[b].end where lineEnd(b, i) > lineStart(b, i) { lines += 1 }
        guard items.count == lines else {
            retryRange(b, reason: "the answer has \(items.count) items for the \(lines) events sent", context: context)
            return
        }
        let ends = b == 0 ? lineEnds.0 : lineEnds.1
        let base = buffer(b)
        let rangeEnd = lineEnd(b, requests[b].end - 1)
        var cursor = lineStart(b, requests[b].first)
        var lineStartBefore = cursor  // where the line of event i started before any move
        var item = 0
        var retries = 0
        var settledBytes = 0
        var firstRetry = 0
        for i in requests[b].first..<requests[b].end {
            let start = lineStartBefore
            let length = lineEnd(b, i) - start
            lineStartBefore = lineEnd(b, i)
            var keep = false
            if length > 0 {
                switch items.verdict(item) {
                case .accepted: break
                case .retry:
                    keep = true
                    if retries == 0 { firstRetry = item }
                case .rejected:
                    if let d = deadLetter, !d.pointee.hasRoom(forEventBytes: rejectionBytes(b, at: i, context: context)) {
                        keep = true  // the dead-letter buffer is full until its write completes: asked again
                        if retries == 0 { firstRetry = item }
                    } else {
                        let reason = items.reason(item)
                        if !rejectionLogged {
                            Log.warn(context.logName, "the server refused an event: \(reason)" + (deadLetter == nil ? "; no dead-letter file is set, so refused events are dropped and counted (rejected)" : "; it goes to the dead-letter file"))
                            rejectionLogged = true
                        }
                        recordRejection(inBuffer: b, at: i, reason: reason, context: context)
                    }
                }
                item += 1
            }
            if keep {
                if cursor != start { memmove(base + cursor, base + start, length) }
                cursor += length
                retries += 1
            } else {
                settledBytes += length
            }
            ends[i] = Int32(truncatingIfNeeded: cursor)
        }
        closeUp(b, from: rangeEnd, to: cursor)
        context.count(.bytesOut, settledBytes)
        flushDeadLetter(context: context)
        if retries == 0 {
            writeRetry.succeeded()
            if errorLogged {
                Log.info(context.logName, "the server accepts again")
                errorLogged = false
            }
            nextRequest(b, context: context)
            return
        }
        retryRange(b, reason: "\(retries) of \(lines) events not taken (\(items.reason(firstRetry)))", context: context)
    }

    /// The current range is answered: the next one goes out, or the buffer is done.
    mutating func nextRequest(_ b: Int, context: OutputContext) {
        if requests[b].next() {
            sendRequest(b, context: context)
        } else {
            acknowledge(buffer: b, context: context)
        }
    }

    /// The server refused the current range. When it named the line, that event is rejected
    /// (dead-letter file) and the lines before and after it go again, each range on its own;
    /// otherwise halves are tried on their own down to the single event refused.
    mutating func rangeRejected(_ b: Int, reason: String, line: Int?, context: OutputContext) {
        var lines = 0
        var named: Int? = nil
        for i in requests[b].first..<requests[b].end where lineEnd(b, i) > lineStart(b, i) {
            if lines == line { named = i }
            lines += 1
        }
        if lines > 1, let refused = named, requests[b].depth < RequestRanges.stackCapacity / 2 {
            guard reject(b, at: refused, reason: reason, context: context) else { return }
            // The lines before it go first, then the ones after it (an empty side is skipped).
            if refused > requests[b].first {
                if refused + 1 < requests[b].end { requests[b].push(refused + 1, requests[b].end) }
                requests[b].end = refused
                sendRequest(b, context: context)
            } else if refused + 1 < requests[b].end {
                requests[b].first = refused + 1
                sendRequest(b, context: context)
            } else {
                nextRequest(b, context: context)
            }
            return
        }
        if lines > 1 {
            // The handle where the second half of the lines starts.
            var seen = 0
            var middle = requests[b].first
            for i in requests[b].first..<requests[b].end where lineEnd(b, i) > lineStart(b, i) {
                if seen == lines / 2 {
                    middle = i
                    break
                }
                seen += 1
            }
            requests[b].push(middle, requests[b].end)
            requests[b].end = middle
            sendRequest(b, context: context)
            return
        }
        var only = requests[b].first
        for i in requests[b].first..<requests[b].end where lineEnd(b, i) > lineStart(b, i) { only = i }
        guard reject(b, at: only, reason: reason, context: context) else { return }
        nextRequest(b, context: context)
    }

    /// Rejects the event at `index` of buffer `b` (the server refused it); false when the
    /// dead-letter buffer has no room until its write completes: the range is then asked again.
    mutating func reject(_ b: Int, at index: Int, reason: String, context: OutputContext) -> Bool {
        if let d = deadLetter, !d.pointee.hasRoom(forEventBytes: rejectionBytes(b, at: index, context: context)) {
            flushDeadLetter(context: context)
            writeRetry.failed(now: context.now)
            move(b, to: .retrying(written: 0))
            return false
        }
        if !rejectionLogged {
            Log.warn(context.logName, "the server refused an event: \(reason)" + (deadLetter == nil ? "; no dead-letter file is set, so refused events are dropped and counted (rejected)" : "; it goes to the dead-letter file"))
            rejectionLogged = true
        }
        recordRejection(inBuffer: b, at: index, reason: reason, context: context)
        flushDeadLetter(context: context)
        return true
    }
}
