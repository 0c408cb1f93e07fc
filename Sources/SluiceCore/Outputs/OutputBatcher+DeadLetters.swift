/// Rejected events (`format=json`) and their dead-letter file: a rejected event waits in its
/// batch like a placeholder, its line goes to the dead-letter buffer, and the batch is
/// acknowledged only once that line is written (sequence numbers), so a rejected event is never
/// committed before it is in the dead-letter file.
extension OutputBatcher {
    /// Why the event is not valid JSON, or nil when it is (decoded events are known valid).
    static func jsonProblem(_ event: Event) -> String? {
        if event.has(EventFlags.decoded) { return nil }
        let outcome = JSONScanner.scan(event.raw, fields: event.fields, fieldCapacity: 0)
        if case .invalid(let offset, let reason) = outcome { return "not valid JSON: \(reason) at byte \(offset)" }
        return nil
    }

    /// A permanently rejected event: it goes to the dead-letter file (or is dropped, counted and
    /// logged without one) and waits in this batch, so it is acknowledged in stream order and
    /// only once its dead-letter line is written.
    mutating func reject(_ event: Event, handle: EventHandle, reason: String, context: OutputContext) {
        recordRejection(event, reason: reason, inBuffer: filling, context: context)
        appendPlaceholder(handle, context: context)
    }

    /// Writes the rejected event's dead-letter line (held by buffer `b`'s acknowledgement) and
    /// takes it off this output's route.
    mutating func recordRejection(_ event: Event, reason: String, inBuffer b: Int, context: OutputContext) {
        recordRejection(raw: event.raw, offset: event.header.pointee.offset, reason: reason, inBuffer: b, context: context)
        event.unroute(routeBit)  // not delivered here (other outputs may write it)
    }

    /// The dead-letter line of a rejected event's bytes (or its count and a log line without a
    /// dead-letter file), held by buffer `b`'s acknowledgement.
    mutating func recordRejection(raw: UnsafeRawBufferPointer, offset: UInt64, reason: String, inBuffer b: Int, context: OutputContext) {
        context.count(.rejected, 1)
        if let d = deadLetter {
            let sequence = d.pointee.append(raw: raw, offset: offset, reason: reason, pipeline: context.pipelineName)
            if b == 0 { deadLetterNeeded.0 = sequence } else { deadLetterNeeded.1 = sequence }
            context.count(.deadLettered, 1)
        } else if !rejectionLogged {
            Log.warn(context.logName, "rejected an event (\(reason)); no dead-letter file is set, so rejected events are dropped and counted (rejected)")
            rejectionLogged = true
        }
    }

    func deadLetterNeeded(_ b: Int) -> UInt64 { b == 0 ? deadLetterNeeded.0 : deadLetterNeeded.1 }

    /// Starts the dead-letter write if lines wait and none is in flight.
    mutating func flushDeadLetter(context: OutputContext) {
        guard let d = deadLetter, !d.pointee.writing, d.pointee.used > 0 else { return }
        d.pointee.startWrite()
        submitDeadLetterWrite(d, context: context)
    }

    func submitDeadLetterWrite(_ d: UnsafeMutablePointer<DeadLetterQueue>, context: OutputContext) {
        context.ring.write(fd: d.pointee.fd, from: d.pointee.writeBuffer + d.pointee.written, count: d.pointee.writeBytes - d.pointee.written,
                           offset: UInt64.max, userData: context.userData(.deadLetterWrite))
    }

    mutating func deadLetterWriteCompleted(result: Int32, context: OutputContext) {
        guard let d = deadLetter else { return }
        precondition(d.pointee.writing, "dead-letter completion without a write in flight")
        if result < 0 {
            // Keep the write (nothing it holds is acknowledged), back off, and try again from
            // `tick`: retrying at once spun a worker at 100% CPU on a full disk.
            context.count(.outputErrors, 1)
            if deadLetterRetry.delayNanos == 0 {
                Log.error(context.logName, "dead-letter \(SystemError(negated: result, operation: "write")); retrying with backoff, events held")
            }
            deadLetterRetry.failed(now: context.now)
            return
        }
        deadLetterRetry.succeeded()
        d.pointee.written += Int(result)
        resumeDeadLetter(context: context)
    }

    /// Writes the rest of the dead-letter buffer, or finishes it and acknowledges the batch that
    /// waited for it.
    mutating func resumeDeadLetter(context: OutputContext) {
        guard let d = deadLetter else { return }
        if d.pointee.written < d.pointee.writeBytes {
            submitDeadLetterWrite(d, context: context)
            return
        }
        d.pointee.finishWrite()
        flushDeadLetter(context: context)
        let b = state(0) == .awaitingDeadLetter ? 0 : 1
        if state(b) == .awaitingDeadLetter && d.pointee.durable >= deadLetterNeeded(b) {
            acknowledge(buffer: b, context: context)
            if sink.waitsForPeer { pollPeer(context: context) }  // the next buffer may be acknowledged too
        }
    }
}
