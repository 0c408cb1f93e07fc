import CSupport
import Glibc

/// One PostgreSQL connection per worker and output, driven by libpq in its non-blocking mode:
/// libpq reads and writes its socket itself (PQconnectPoll, PQsendQuery, PQputCopyData,
/// PQflush, PQconsumeInput) only when the socket is ready, and the worker learns that from a
/// one-shot poll through its own ring (IORING_OP_POLL_ADD). libpq never waits, so the worker's
/// loop never blocks on the database; at most one poll is in flight, and libpq is called only
/// when none is (it may close and reopen its socket while connecting).
///
/// A batch: `BEGIN; COPY … FROM STDIN; [INSERT … ON CONFLICT DO NOTHING;] COMMIT` sent as one
/// query; once the server is in COPY mode the rows are queued in `copyChunkBytes` pieces and
/// flushed as the socket takes them; the batch is accepted only on the COMMIT's result. An
/// error is rolled back before its verdict. The batcher sees a sink that answers: completions
/// before the rows are out are its write (`.outputWrite`), the rest its response
/// (`.outputReceive`), connecting its connect (`.outputConnect`).
struct PostgresSink {
    /// Where the connection is. A batch goes starting → copying → finishing (→ rollingBack) →
    /// idle; `preparing` makes the temporary table of `conflict=` on a new connection.
    enum Phase: Equatable {
        case disconnected, connecting, preparing, idle, starting, copying, finishing, rollingBack
    }

    /// How far a batch got without waiting.
    enum Step {
        /// Wait for these poll events.
        case wait(Int16)
        case done(SinkResponse)
        case lost(Int32)
    }

    /// Rows handed to libpq per PQputCopyData, flushed before the next: libpq's buffer stays
    /// about this size, whatever the batch.
    static let copyChunkBytes = 64 << 10

    let keywords: UnsafeMutablePointer<UnsafePointer<CChar>?>
    let values: UnsafeMutablePointer<UnsafePointer<CChar>?>
    let batchStatement: UnsafeMutablePointer<CChar>
    let stageStatement: UnsafeMutablePointer<CChar>?
    let timeoutNanos: UInt64
    let retryMaxNanos: UInt64
    /// The table, for log lines.
    let table: String

    private(set) var connection: OpaquePointer?
    private(set) var phase = Phase.disconnected
    private(set) var reconnect: Reconnection
    /// A poll of libpq's socket is in flight; `pollFD` is that socket.
    private(set) var polling = false
    var pollFD: Int32 = -1
    /// When the poll in flight gives up (`timeout`), and whether it did.
    private(set) var deadlineNanos: UInt64 = 0
    private(set) var timedOut = false
    /// The batch in flight: its rows (the batcher's buffer), how many libpq has queued, and
    /// whether the copy's end is queued too.
    var rows: UnsafeRawPointer?
    var rowBytes = 0
    var queuedBytes = 0
    var copyEnded = false
    /// The batcher was told the rows are out: completions now come as its response.
    var responding = false
    /// The batch's first error (kept through its ROLLBACK), and whether its COMMIT succeeded.
    var failure: SinkResponse?
    var committed = false
    /// A step to hand over with the next completion (a NOP carries it).
    var carried: Step?
    /// libpq's words on the last connection problem, for the log.
    var problem = ""

    init(_ output: PostgresOutput) {
        let pairs = [("fallback_application_name", "sluice"), ("dbname", output.dsn)]
        keywords = .allocate(capacity: pairs.count + 1)
        values = .allocate(capacity: pairs.count + 1)
        for (i, (key, value)) in pairs.enumerated() {
            keywords[i] = UnsafePointer(strdup(key))
            values[i] = UnsafePointer(strdup(value))
        }
        keywords[pairs.count] = nil
        values[pairs.count] = nil
        batchStatement = strdup(output.batchStatement)
        stageStatement = output.stageStatement.map { strdup($0) }
        timeoutNanos = UInt64(output.timeoutMicros) * 1000
        retryMaxNanos = UInt64(output.retryMaxMicros) * 1000
        reconnect = Reconnection(maxNanos: retryMaxNanos)
        table = output.table
    }

    var isReady: Bool { phase == .idle }
    var isConnecting: Bool { phase == .connecting || phase == .preparing }

    // MARK: A batch

    /// Sends the batch statement for `count` bytes of rows at `bytes` and runs as far as it goes.
    mutating func write(from bytes: UnsafeRawPointer, count: Int, context: OutputContext) {
        precondition(phase == .idle && !polling && carried == nil, "PostgreSQL batch while another is in flight")
        rows = bytes
        rowBytes = count
        queuedBytes = 0
        copyEnded = false
        responding = false
        failure = nil
        committed = false
        phase = .starting
        let step = PQsendQuery(connection, batchStatement) == 1 ? advance(ready: 0) : lost()
        if case .wait(let events) = step, !responding {
            arm(events, .outputWrite, context: context)
            return
        }
        carried = step
        context.ring.nop(userData: context.userData(.outputWrite))
    }

    /// A completion of the write part: more rows go out, or the response begins.
    mutating func written(result: Int32, context: OutputContext) -> SinkWriteResult {
        let step = takeStep(result: result)
        if !responding {
            switch step {
            case .wait(let events):
                arm(events, .outputWrite, context: context)
                return .continuing
            case .lost(let error): return .connectionLost(error)
            case .done: preconditionFailure("a PostgreSQL verdict before the response")
            }
        }
        switch step {
        case .wait(let events): arm(events, .outputReceive, context: context)
        case .done: 
            carried = step
            context.ring.nop(userData: context.userData(.outputReceive))
        case .lost(let error): return .connectionLost(error)
        }
        return .wrote(rowBytes)
    }

    /// A completion of the response part: wait more, or the verdict on the batch.
    mutating func received(result: Int32, context: OutputContext) -> SinkResponse {
        switch takeStep(result: result) {
        case .wait(let events):
            arm(events, .outputReceive, context: context)
            return .incomplete
        case .done(let verdict):
            phase = .idle
            rows = nil
            return verdict
        case .lost(let error): return .connectionLost(error)
        }
    }

    /// The step a completion brings: the carried one, or libpq's progress on a ready socket.
    mutating func takeStep(result: Int32) -> Step {
        if let step = carried {
            carried = nil
            return step
        }
        polling = false
        if timedOut { return .lost(-ETIMEDOUT) }
        if result < 0 { return .lost(result) }
        return advance(ready: result)
    }

    /// Runs the batch as far as libpq can without waiting; `ready`: the poll's events.
    mutating func advance(ready: Int32) -> Step {
        guard let c = connection else { return .lost(-ENOTCONN) }
        // Read what came: a phase that waits for results parses it; while copying libpq keeps
        // it (an early error), and the socket stops polling readable.
        if (phase != .copying || ready & Int32(POLLIN) != 0) && PQconsumeInput(c) == 0 { return lost() }
        while true {
            let step = phase == .copying ? copyRows(c) : readResults(c)
            if let step {
                if case .wait = step, PQsocket(c) < 0 { return lost() }
                return step
            }
        }
    }

    /// Queues the rows and the copy's end as fast as the socket takes them; nil once all of it
    /// is sent (the response begins).
    mutating func copyRows(_ c: OpaquePointer) -> Step? {
        while true {
            let flushed = PQflush(c)
            if flushed < 0 { return lost() }
            if flushed > 0 { return .wait(Int16(POLLOUT | POLLIN)) }
            if copyEnded {
                phase = .finishing
                responding = true
                return nil
            }
            if queuedBytes < rowBytes {
                let n = min(Self.copyChunkBytes, rowBytes - queuedBytes)
                let queued = PQputCopyData(c, (rows! + queuedBytes).assumingMemoryBound(to: CChar.self), Int32(n))
                if queued < 0 { return lost() }
                if queued == 0 { return .wait(Int16(POLLOUT | POLLIN)) }
                queuedBytes += n
            } else {
                let ended = PQputCopyEnd(c, nil)
                if ended < 0 { return lost() }
                if ended == 0 { return .wait(Int16(POLLOUT | POLLIN)) }
                copyEnded = true
            }
        }
    }

    /// Takes the results that came; nil when the batch moved on (to copying, or to its ROLLBACK).
    mutating func readResults(_ c: OpaquePointer) -> Step? {
        let flushed = PQflush(c)
        if flushed < 0 { return lost() }
        if flushed > 0 { return .wait(Int16(POLLIN | POLLOUT)) }
        while PQisBusy(c) == 0 {
            guard let result = PQgetResult(c) else { return statementsDone(c) }
            defer { PQclear(result) }
            let status = PQresultStatus(result)
            if status == PGRES_COPY_IN {
                guard phase == .starting else { return lost() }  // not what was sent
                phase = .copying
                return nil
            }
            if status == PGRES_COMMAND_OK {
                if phase == .finishing && strcmp(PQcmdStatus(result), "COMMIT") == 0 { committed = true }
            } else if status == PGRES_FATAL_ERROR || status == PGRES_BAD_RESPONSE || status == PGRES_NONFATAL_ERROR {
                if failure == nil { failure = PostgresErrors.verdict(result) }
            }
        }
        return .wait(Int16(POLLIN))
    }

    /// Every result of the query is in: the verdict, or a ROLLBACK first.
    mutating func statementsDone(_ c: OpaquePointer) -> Step? {
        if PQstatus(c) == CONNECTION_BAD { return lost() }
        switch phase {
        case .preparing: return .done(failure ?? .accepted)
        case .rollingBack: return .done(failure ?? .retry(afterNanos: 0, reason: "rolled back"))
        default:
            responding = true
            if failure == nil && phase == .finishing && committed { return .done(.accepted) }
            let verdict = failure ?? .retry(afterNanos: 0, reason: "the batch's statements ended without its COMMIT")
            failure = verdict
            if PQtransactionStatus(c) == PQTRANS_IDLE { return .done(verdict) }
            guard PQsendQuery(c, "ROLLBACK") == 1 else { return lost() }
            phase = .rollingBack
            return nil
        }
    }

    /// The connection failed: libpq's words for the log.
    mutating func lost() -> Step {
        problem = PostgresErrors.message(connection)
        return .lost(-ECONNRESET)
    }

    mutating func arm(_ events: Int16, _ kind: CompletionKind, context: OutputContext) {
        pollFD = PQsocket(connection)
        polling = true
        deadlineNanos = context.now + timeoutNanos
        context.ring.poll(fd: pollFD, events: events, userData: context.userData(kind))
    }

    // MARK: Connection

    /// Gives up on a poll past its deadline (shutting the socket down completes it: the
    /// operation in flight reports the loss), and connects when due.
    mutating func tick(context: OutputContext) {
        if polling && !timedOut && context.now >= deadlineNanos {
            timedOut = true
            context.count(.outputTimeouts, 1)
            Log.error(context.logName, "no answer from PostgreSQL within \(timeoutNanos / 1_000_000) ms; "
                + (phase == .connecting || phase == .preparing ? "connecting again" : "the batch goes again on a new connection"))
            shutdown(pollFD, Int32(SHUT_RDWR))
        }
        if phase == .disconnected && reconnect.isDue(now: context.now) { startConnect(context: context) }
    }

    /// When the poll in flight times out.
    var responseDeadline: UInt64? { polling && !timedOut ? deadlineNanos : nil }

    mutating func startConnect(context: OutputContext) {
        timedOut = false
        guard let c = PQconnectStartParams(keywords, values, 1) else {
            scheduleReconnect(context: context, reason: "out of memory for a PostgreSQL connection")
            return
        }
        PQsetNoticeProcessor(c, { _, message in
            if let message { Log.warn("postgres", String(cString: message).trimmingCharacters(in: "\n")) }
        }, nil)
        connection = c
        guard PQstatus(c) != CONNECTION_BAD else {
            failConnect(context: context, reason: PostgresErrors.message(c))
            return
        }
        phase = .connecting
        // Before the first PQconnectPoll libpq waits to write (its connect in progress).
        arm(Int16(POLLOUT), .outputConnect, context: context)
    }

    /// A poll of the connection's socket completed: on with the handshake (and the temporary
    /// table); true once the connection takes batches.
    mutating func connectCompleted(result: Int32, context: OutputContext) -> Bool {
        precondition(isConnecting && polling, "PostgreSQL connect completion without a connect in flight")
        polling = false
        guard let c = connection, !timedOut, result >= 0 else {
            let reason = timedOut ? "no answer within \(timeoutNanos / 1_000_000) ms" : SystemError(negated: result, operation: "poll").description
            failConnect(context: context, reason: reason)
            return false
        }
        if phase == .connecting {
            let status = PQconnectPoll(c)
            if status == PGRES_POLLING_READING || status == PGRES_POLLING_WRITING {
                arm(Int16(status == PGRES_POLLING_READING ? POLLIN : POLLOUT), .outputConnect, context: context)
                return false
            }
            guard status == PGRES_POLLING_OK, PQsetnonblocking(c, 1) == 0 else {
                failConnect(context: context, reason: PostgresErrors.message(c))
                return false
            }
            guard let stage = stageStatement else { return connected(context: context) }
            failure = nil
            phase = .preparing
            guard PQsendQuery(c, stage) == 1 else {
                failConnect(context: context, reason: PostgresErrors.message(c))
                return false
            }
        }
        switch advance(ready: result) {
        case .wait(let events):
            arm(events, .outputConnect, context: context)
            return false
        case .done(.accepted):
            return connected(context: context)
        case .done(.retry(_, let reason)), .done(.rejected(let reason, _)):
            failConnect(context: context, reason: "making the temporary table for conflict=: " + reason)
        case .done, .lost:
            failConnect(context: context, reason: problem)
        }
        return false
    }

    mutating func connected(context: OutputContext) -> Bool {
        phase = .idle
        reconnect.succeeded(context: context, destination: "PostgreSQL")
        return true
    }

    mutating func failConnect(context: OutputContext, reason: String) {
        context.count(.outputErrors, 1)
        finish()
        scheduleReconnect(context: context, reason: reason)
    }

    /// The batch's connection is gone (or timed out): closed; the batch is sent again on the
    /// next one (counted as a retry).
    mutating func disconnect(result: Int32, context: OutputContext) {
        context.count(.outputErrors, 1)
        if phase != .idle { context.count(.outputRetries, 1) }
        let reason = result == -ETIMEDOUT ? "the batch timed out" : (problem.isEmpty ? SystemError(negated: result, operation: "PostgreSQL").description : problem)
        finish()
        scheduleReconnect(context: context, reason: reason)
    }

    /// Closes the connection; no poll of ours is in flight on it.
    mutating func finish() {
        if let connection { PQfinish(connection) }
        connection = nil
        phase = .disconnected
        polling = false
        timedOut = false
        carried = nil
        rows = nil
        problem = ""
    }

    mutating func scheduleReconnect(context: OutputContext, reason: String) {
        reconnect.failed(context: context, "PostgreSQL (table \(table)): \(reason)")
    }

    var reconnectDeadline: UInt64? { phase == .disconnected ? reconnect.atNanos : nil }

    func close() {
        if let connection { PQfinish(connection) }
    }

    func dispose() {
        close()
        var i = 0
        while let key = keywords[i] {
            free(UnsafeMutablePointer(mutating: key))
            free(UnsafeMutablePointer(mutating: values[i]))
            i += 1
        }
        keywords.deallocate()
        values.deallocate()
        free(batchStatement)
        if let stageStatement { free(stageStatement) }
    }
}
