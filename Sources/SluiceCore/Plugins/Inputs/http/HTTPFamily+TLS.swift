import Glibc

/// An http connection over TLS: the parser reads the decrypted bytes (`currentRaw`), and what
/// the session writes (handshake messages, alerts, the answers) is sent through the ring.
extension HTTPFamily {
    /// After its session was read: a connection whose session failed (its alert still goes out)
    /// or was closed by the peer (close_notify) reads no more; ciphertext the session made
    /// (handshake messages, alerts) is sent.
    func settleTLS(_ c: Int, _ context: InputContext) {
        switch connections[c].tls.phase {
        case .failed, .closed:
            connections[c].tls.queueCloseNotify()  // the peer's close_notify is answered
            if !connections[c].ended {
                received.drop(&connections[c].queue)
                endReading(c, context)
            }
        case .off, .handshaking, .established:
            break
        }
        flushTLS(c, context)
    }

    /// Sends the ciphertext waiting in the connection's session (one send at a time).
    func flushTLS(_ c: Int, _ context: InputContext) {
        if connections[c].tls.isSending { return }
        if connections[c].tls.flush(context.ring, fd: connections[c].fd, userData: HTTPFamily.userData(.tlsSend, c, connections[c].generation)) {
            connections[c].sendsInFlight += 1
        }
    }

    /// Over TLS: the answer is encrypted as far as the session's output takes it, and sent;
    /// each completed send makes room for more (`tlsSendCompleted`). It is sent when both the
    /// answer and the session's output are empty; close_notify follows the last answer of a
    /// connection that closes.
    func sendTLSAnswer(_ c: Int, _ context: InputContext) {
        let p = connections[c].pipeline
        while !connections[c].response.isComplete {
            let used = connections[c].tls.write(connections[c].response.pending, context, pipeline: p)
            if used == 0 { break }
            connections[c].response.sent += used
        }
        if connections[c].response.isComplete && closesAfterAnswer(c, context) { connections[c].tls.queueCloseNotify() }
        flushTLS(c, context)
        if connections[c].tls.isSending { return }
        guard connections[c].response.isComplete else {
            // The session failed, or the peer closed it: the answer cannot go out.
            connections[c].phase = .closed
            endReading(c, context)
            return
        }
        answerSent(c, context)
    }

    /// A send of TLS ciphertext completed: the answer being sent goes on, or the connection
    /// reads on (its session may have waited for room to write a handshake message).
    func tlsSendCompleted(connection c: Int, result: Int32, _ context: InputContext) {
        connections[c].sendsInFlight -= 1
        guard connections[c].tls.sent(result) else {
            if result != -EPIPE && result != -ECONNRESET {
                context.counters.add(.inputErrors, 1, pipeline: connections[c].pipeline)
                Log.warn("input http", "\(SystemError(negated: result, operation: "send")) of TLS data; closing the connection")
            }
            connections[c].phase = .closed  // nothing more is sent: the connection closes
            endReading(c, context)
            return
        }
        if connections[c].phase == .sending { return sendTLSAnswer(c, context) }
        flushTLS(c, context)
        markReady(c)
    }
}
