import CSupport
import Glibc

/// One connection's requests, read and answered in turn: the head, the body framed into events
/// as it arrives (through `ChunkedDecoder` and the inflater when it is so sent), the answer.
extension HTTPFamily {
    enum Outcome: Equatable {
        case ok
        /// No free event: the connection stays ready and waits (backpressure).
        case stuck
        /// The request was answered with an error; the connection closes after it.
        case failed
    }

    /// Drives ready connections; a connection that finds no free event stays ready, the others
    /// are still served. Without `eventsFree` (the pool is exhausted, so the worker does not call
    /// `service`: `maintain` calls this) only what needs no event moves: heads are read, and a
    /// request with a body is answered 429 rather than left waiting; answers go out.
    func serviceConnections(_ context: InputContext, eventsFree: Bool = true) -> Bool {
        var progressed = false
        var i = 0
        while i < readyCount {
            let c = Int(readyConnections[i])
            if !eventsFree && connections[c].phase == .body && !connections[c].discarding {
                i += 1
                continue
            }
            let framedBefore = connections[c].framed
            if drive(c, context) {
                progressed = true
                connections[c].queued = false
                readyCount -= 1
                readyConnections[i] = readyConnections[readyCount]
            } else {
                if connections[c].framed != framedBefore { progressed = true }
                i += 1
            }
        }
        if received.recycled {
            received.recycled = false
            for c in 0..<connectionCapacity where connections[c].fd >= 0 && connections[c].needsRearm && !connections[c].ended { armReceive(c, context) }
        }
        return progressed
    }

    /// Moves connection `c` as far as it can go; false when it waits for a free event.
    func drive(_ c: Int, _ context: InputContext) -> Bool {
        while true {
            switch connections[c].phase {
            case .closed:
                closeIfDone(c, context)
                return true
            case .head:
                switch readHead(c, context) {
                case .ok: startRequest(c, context)
                case .stuck:
                    guard connections[c].ended else { return true }
                    connections[c].phase = .closed
                case .failed: continue
                }
            case .body:
                let fed = feedBody(c, context)
                context.dispatch(to: context.workerIndex)
                switch fed {
                case .ok: if connections[c].phase == .body { finishBody(c, context) }
                case .stuck:
                    if connections[c].phase != .body { continue }
                    if context.poolExhausted { return false }
                    guard connections[c].ended else { return true }
                    // The peer left in the middle of a request: it was never answered, so the
                    // sender sends it again; what was framed of it goes on (duplicates at most).
                    context.abandon(&connections[c].framer)
                    connections[c].phase = .closed
                case .failed: continue
                }
                if connections[c].phase == .body { return !context.poolExhausted }
            case .answering:
                if connections[c].discarding {
                    respond(c, .tooManyRequests, "the event pool is full, retry later", close: false, context)
                    continue
                }
                if options[connections[c].listener].acknowledgeOnOutput && connections[c].outstanding > 0 { return true }
                answer(c, context)
            case .sending:
                return true
            }
        }
    }

    // MARK: Received bytes

    /// The connection's next unread bytes: the unread part of its oldest received buffer, or
    /// over TLS the decrypted bytes (ciphertext is decrypted as they are read).
    func currentRaw(_ c: Int, _ context: InputContext) -> UnsafeRawBufferPointer? {
        guard connections[c].tls.isOn else { return received.unread(connections[c].queue) }
        let bytes = received.readable(&connections[c].queue, &connections[c].tls, context, pipeline: connections[c].pipeline)
        if bytes == nil { settleTLS(c, context) }
        return bytes
    }

    /// `count` of those bytes were used; a buffer used up goes back to the kernel.
    func consumeRaw(_ c: Int, _ count: Int) {
        received.consume(count, &connections[c].queue, &connections[c].tls)
    }

    // MARK: Head

    /// Copies received bytes into the head buffer up to the blank line. `.stuck`: not all there
    /// yet; `.failed`: over `max-header-size` (answered).
    func readHead(_ c: Int, _ context: InputContext) -> Outcome {
        let o = options[connections[c].listener]
        let head = connections[c].scratch!
        while let raw = currentRaw(c, context) {
            var skip = 0
            if connections[c].headLength == 0 {
                // Empty lines before a request are ignored (RFC 9112 2.2).
                while skip < raw.count && (raw[skip] == 0x0D || raw[skip] == 0x0A) { skip += 1 }
                if skip == raw.count { consumeRaw(c, skip); continue }
                connections[c].requestStartNanos = context.now
            }
            let length = connections[c].headLength
            let take = min(raw.count - skip, o.maxHeaderBytes - length)
            (head + length).copyMemory(from: raw.baseAddress! + skip, byteCount: take)
            // Each new byte in order: the blank line that ends the head, or a line ended by LF
            // alone, which some servers and proxies read as a line end and others do not (a way
            // to smuggle a request past one of them). It is refused at once rather than waited
            // on, since the CRLF CRLF that ends a head would never come.
            var j = length
            while j < length + take {
                if head.load(fromByteOffset: j, as: UInt8.self) == 0x0A {
                    guard j > 0, head.load(fromByteOffset: j - 1, as: UInt8.self) == 0x0D else {
                        consumeRaw(c, skip + take)
                        fail(c, .badRequest, "bare LF in the head", context)
                        return .failed
                    }
                    if j >= 3 && head.loadUnaligned(fromByteOffset: j - 3, as: UInt32.self) == 0x0A0D_0A0D {
                        consumeRaw(c, skip + j + 1 - length)
                        connections[c].headLength = j + 1
                        return .ok
                    }
                }
                j += 1
            }
            consumeRaw(c, skip + take)
            connections[c].headLength = length + take
            if connections[c].headLength == o.maxHeaderBytes {
                fail(c, .badRequest, "request line and headers over max-header-size", context)
                return .failed
            }
        }
        return .stuck
    }

    /// Routes a complete head: `GET /` and `HEAD /` are answered as Elasticsearch; `POST` and
    /// `PUT` bodies are read (bulk API on `…/_bulk`, NDJSON anywhere else).
    func startRequest(_ c: Int, _ context: InputContext) {
        let o = options[connections[c].listener]
        let p = connections[c].pipeline
        context.counters.add(.httpRequests, 1, pipeline: p)
        let head = UnsafeRawBufferPointer(start: connections[c].scratch!, count: connections[c].headLength - 2)
        do {
            connections[c].request = try HTTPRequestHead.parse(head, maxHeaders: o.maxHeaderCount)
        } catch {
            switch error {
            case .unsupportedEncoding: fail(c, .unsupportedMediaType, error.reason, context)
            case .unsupportedVersion: fail(c, .versionNotSupported, error.reason, context)
            case .malformed, .tooManyHeaders: fail(c, .badRequest, error.reason, context)
            }
            return
        }
        let request = connections[c].request
        let path = UnsafeRawBufferPointer(rebasing: head[request.path])
        switch request.method {
        case .get, .head:
            guard request.body == .none else { return fail(c, .badRequest, "a GET or HEAD request with a body", context) }
            if path.count == 1 && path[0] == 0x2F { return answerInfo(c, context) }
            return answerNotFound(c, context)
        case .post, .put:
            break
        case .other:
            return fail(c, .methodNotAllowed, "only GET, HEAD, POST and PUT are served", context)
        }
        if case .length(let n) = request.body, n > o.maxBodyBytes {
            return fail(c, .payloadTooLarge, "request body over max-body", context)
        }
        if request.body != .none && context.poolExhausted && poolFullSinceNanos > 0 && context.now &- poolFullSinceNanos >= o.refuseAfterNanos {
            // Every event is taken: the sender is told to come back rather than kept waiting.
            // Its body is read and dropped so the connection stays usable (no reset while the
            // sender is still sending); one that waits for 100 Continue is not asked for it.
            if request.expectContinue { return fail(c, .tooManyRequests, "the event pool is full, retry later", context) }
            connections[c].discarding = true
        }
        if let index = HTTPBulk.bulkPath(path), !connections[c].discarding {
            guard index.count <= HTTPScratch.maxIndexNameBytes, HTTPBulk.isValidIndexName(UnsafeRawBufferPointer(rebasing: path[index])) else {
                return fail(c, .badRequest, "invalid index name in the path", context)
            }
            connections[c].bulk = true
            let target = connections[c].scratch! + HTTPScratch.pathIndex(o.maxHeaderBytes)
            if !index.isEmpty { target.copyMemory(from: path.baseAddress! + index.lowerBound, byteCount: index.count) }
            connections[c].pathIndexLength = index.count
        }
        if request.encoding == .gzip && request.body != .none && !connections[c].discarding && connections[c].inflater == nil {
            connections[c].inflater = sl_inflater_create()
            connections[c].inflated = .allocate(byteCount: HTTPFamily.inflateBufferBytes, alignment: 16)
            guard connections[c].inflater != nil else { return fail(c, .serverError, "out of memory for a gzip body", context) }
        }
        if request.expectContinue && request.body != .none && connections[c].tls.isOn {
            let line = UnsafeRawBufferPointer(start: HTTPAnswers.continueLine.utf8Start, count: HTTPAnswers.continueLine.utf8CodeUnitCount)
            _ = connections[c].tls.write(line, context, pipeline: connections[c].pipeline)  // the output is empty between requests
            flushTLS(c, context)
        } else if request.expectContinue && request.body != .none {
            connections[c].sendsInFlight += 1
            context.ring.send(fd: connections[c].fd, from: HTTPAnswers.continueLine.utf8Start, count: HTTPAnswers.continueLine.utf8CodeUnitCount,
                              userData: HTTPFamily.userData(.sendContinue, c, connections[c].generation))
        }
        if case .length(let n) = request.body { connections[c].bodyLeft = n }
        connections[c].phase = .body
    }

    // MARK: Body

    /// Reads what arrived of the body. `.ok`: all of it is framed.
    func feedBody(_ c: Int, _ context: InputContext) -> Outcome {
        let gzip = connections[c].request.encoding == .gzip && connections[c].request.body != .none && !connections[c].discarding
        if gzip {
            let r = feedDecoded(c, UnsafeRawBufferPointer(start: nil, count: 0), context)
            if r.outcome != .ok { return r.outcome }
        }
        while true {
            switch connections[c].request.body {
            case .none:
                return .ok
            case .length:
                if connections[c].bodyLeft == 0 { return .ok }
                guard let raw = currentRaw(c, context) else { return .stuck }
                let data = UnsafeRawBufferPointer(rebasing: raw[0..<min(connections[c].bodyLeft, raw.count)])
                let r = feedDecoded(c, data, context)
                connections[c].bodyLeft -= r.used
                consumeRaw(c, r.used)
                if r.outcome != .ok { return r.outcome }
            case .chunked:
                if connections[c].chunked.state == .done { return .ok }
                guard let raw = currentRaw(c, context) else { return .stuck }
                switch connections[c].chunked.advance(raw) {
                case .malformed(let why):
                    fail(c, .badRequest, why, context)
                    return .failed
                case .done(let framing):
                    consumeRaw(c, framing)
                case .progress(let framing, let count):
                    let data = UnsafeRawBufferPointer(rebasing: raw[framing..<framing + count])
                    consumeRaw(c, framing)
                    guard count > 0 else { continue }
                    let r = feedDecoded(c, data, context)
                    connections[c].chunked.consumed(data: r.used)
                    consumeRaw(c, r.used)
                    if r.outcome != .ok { return r.outcome }
                }
            }
        }
    }

    /// Body bytes as sent (after chunked framing): inflated when gzip, then cut into lines.
    /// Returns the bytes of `data` used.
    func feedDecoded(_ c: Int, _ data: UnsafeRawBufferPointer, _ context: InputContext) -> (used: Int, outcome: Outcome) {
        let maxBody = options[connections[c].listener].maxBodyBytes
        if connections[c].discarding {
            guard connections[c].bodyBytes + data.count <= maxBody else {
                fail(c, .payloadTooLarge, "request body over max-body", context)
                return (0, .failed)
            }
            connections[c].bodyBytes += data.count
            return (data.count, .ok)
        }
        guard connections[c].request.encoding == .gzip else {
            if connections[c].bodyBytes + data.count > maxBody {
                fail(c, .payloadTooLarge, "request body over max-body", context)
                return (0, .failed)
            }
            let r = feedLines(c, data, context)
            connections[c].bodyBytes += r.used
            return r
        }
        var used = 0
        while true {
            if connections[c].inflatedStart < connections[c].inflatedEnd {
                let pending = UnsafeRawBufferPointer(start: connections[c].inflated! + connections[c].inflatedStart,
                                                     count: connections[c].inflatedEnd - connections[c].inflatedStart)
                let r = feedLines(c, pending, context)
                connections[c].inflatedStart += r.used
                if r.outcome != .ok { return (used, r.outcome) }
            }
            if used == data.count && !connections[c].inflaterMayHaveMore { return (used, .ok) }
            if connections[c].inflateStreamEnded {
                // Another gzip member follows (concatenated members are one gzip body).
                sl_inflater_reset(connections[c].inflater)
                connections[c].inflateStreamEnded = false
            }
            var inputUsed = 0
            var made = 0
            let status = sl_inflate(connections[c].inflater, data.baseAddress.map { $0 + used }, data.count - used, &inputUsed,
                                    connections[c].inflated, HTTPFamily.inflateBufferBytes, &made)
            used += inputUsed
            connections[c].inflatedStart = 0
            connections[c].inflatedEnd = made
            connections[c].inflaterMayHaveMore = made == HTTPFamily.inflateBufferBytes
            connections[c].bodyBytes += made
            if status < 0 || (inputUsed == 0 && made == 0 && used < data.count) {
                fail(c, .badRequest, "the gzip body is not valid gzip data", context)
                return (used, .failed)
            }
            if connections[c].bodyBytes > maxBody {
                fail(c, .payloadTooLarge, "request body over max-body (decompressed)", context)
                return (used, .failed)
            }
            if status == 1 {
                connections[c].inflateStreamEnded = true
                connections[c].inflaterMayHaveMore = false
            }
            if inputUsed == 0 && made == 0 { connections[c].inflaterMayHaveMore = false }
        }
    }

    /// Decoded body bytes into events: NDJSON lines, or the bulk API's action and document lines.
    func feedLines(_ c: Int, _ bytes: UnsafeRawBufferPointer, _ context: InputContext) -> (used: Int, outcome: Outcome) {
        if connections[c].bulk { return feedBulk(c, bytes, context) }
        let r = frame(c, bytes, context)
        return (r.used, r.stuck ? .stuck : .ok)
    }

    /// Frames `bytes` into events of the connection's stream, counting them for the answer. The
    /// batch is handed on when full; the caller hands on the rest (`drive`, once per turn of
    /// the connection: a bulk document is framed in up to three calls).
    func frame(_ c: Int, _ bytes: UnsafeRawBufferPointer, _ context: InputContext) -> (used: Int, stuck: Bool) {
        var used = 0
        repeat {
            let before = context.batchCount
            let r = context.frame(&connections[c].framer, UnsafeRawBufferPointer(rebasing: bytes[used...]), at: connections[c].framed)
            used += r.consumed
            connections[c].framed += UInt64(r.consumed)
            let made = context.batchCount - before
            connections[c].outstanding += made
            connections[c].requestEvents += made
            if r.stop != .consumedAll { context.dispatch(to: context.workerIndex) }
            if r.stop == .poolExhausted {
                context.waitForFreeEvents()
                return (used, true)
            }
        } while used < bytes.count
        return (used, false)
    }

    /// The body is all framed: the last line without a newline is a whole record too.
    func finishBody(_ c: Int, _ context: InputContext) {
        let request = connections[c].request
        if request.encoding == .gzip && request.body != .none && !connections[c].discarding && !connections[c].inflateStreamEnded {
            return fail(c, .badRequest, "the gzip body ends before the gzip stream", context)
        }
        if connections[c].framer.current != nil || connections[c].framer.skipping {
            var newline: UInt8 = 0x0A
            let stuck = withUnsafeBytes(of: &newline) { frame(c, $0, context).stuck }
            context.dispatch(to: context.workerIndex)
            if stuck { return }
        }
        connections[c].bulkLine = .action
        connections[c].phase = .answering
    }
}
