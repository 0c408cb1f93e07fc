import CSupport
import Glibc

/// One datagram per event: a connected UDP socket per worker, and each event's bytes in the
/// buffer (the batcher's line ends mark where one stops) sent as a datagram of its own through
/// the ring, in rounds of up to `roundLimit` sends submitted together. A round that had a
/// failure is written again whole after a backoff (its datagrams that did go out are sent twice:
/// at least once). The kernel taking a datagram is all UDP promises; a receiver whose port is
/// closed shows up as ECONNREFUSED on a later send (the socket is connected so that the ICMP
/// error reaches it), which holds the events and retries. Datagrams leave in the order they are
/// submitted unless the socket's send buffer fills (then the ring retries them when it drains).
/// Sends are not linked: a linked send runs only as task work after the one before it, one loop
/// turn each (1M small events: 63 K/s linked, 241 K/s unlinked). IORING_OP_SEND rather than SENDMSG:
/// every datagram goes to the one connected peer, so there is no address to pass per message.
struct DatagramSink {
    /// Most sends in one round (and in flight at once).
    static let roundLimit = 256
    var connection: OutboundConnection
    @inline(__always) var fd: Int32 { connection.fd }
    var endpoint: String { connection.endpoint }
    /// A send error was logged; its end is logged once sends go through again.
    var errorLogged = false

    /// The write in flight: the buffer, where each event's bytes end in it, how many events.
    private var base: UnsafeRawPointer?
    private var ends: UnsafePointer<Int32>?
    private var records = 0
    /// The first event of the round in flight, the event after it, and its sends in flight.
    private var roundStart = 0
    private var next = 0
    private var inFlight = 0
    /// Where this write started in the buffer, and the first error of the round in flight.
    private var startByte = 0
    private var roundError: Int32 = 0

    init(host: String, port: UInt16, reconnectMaxMicros: Int) {
        connection = OutboundConnection(host: host, port: port, stream: false, reconnectMaxNanos: UInt64(reconnectMaxMicros) * 1000)
    }

    @inline(__always) private func start(_ i: Int) -> Int { i == 0 ? 0 : Int(ends.unsafelyUnwrapped[i - 1]) }
    @inline(__always) private func end(_ i: Int) -> Int { Int(ends.unsafelyUnwrapped[i]) }

    /// Sends the events of `buffer` (`count` of them, the i-th ending at `ends[i]`) whose bytes
    /// start at `fromByte` or later, one datagram each; events without bytes (placeholders)
    /// send nothing.
    mutating func write(buffer: UnsafeRawPointer, ends: UnsafePointer<Int32>, count: Int, fromByte: Int, context: OutputContext) {
        precondition(connection.connected && inFlight == 0, "datagram write without a socket, or with one in flight")
        base = buffer
        self.ends = ends
        records = count
        startByte = fromByte
        var i = 0
        while i < count && start(i) < fromByte { i += 1 }
        next = i
        roundError = 0
        let submitted = submitRound(context: context)
        precondition(submitted, "datagram write with no event bytes from offset \(fromByte)")
    }

    /// Submits the next round of up to `roundLimit` sends (no more than the submission queue
    /// has room for); false when no event with bytes is left.
    private mutating func submitRound(context: OutputContext) -> Bool {
        while next < records && end(next) == start(next) { next += 1 }
        guard next < records else { return false }
        roundStart = next
        let room = max(1, min(Self.roundLimit, context.ring.submissionSpace))
        var n = 0
        while next < records && n < room {
            if end(next) > start(next) {
                context.ring.send(fd: fd, from: base.unsafelyUnwrapped + start(next), count: end(next) - start(next),
                                  userData: context.userData(.outputWrite))
                n += 1
            }
            next += 1
        }
        inFlight = n
        return true
    }

    /// A send completed. `.continuing` while the round or the batch goes on; `.wrote` with the
    /// bytes from where the write started once every datagram went out; `.failed` with the bytes
    /// before the round that had a failure (the batcher writes again from there).
    mutating func written(result: Int32, context: OutputContext) -> SinkWriteResult {
        precondition(inFlight > 0, "datagram completion without a send in flight")
        inFlight -= 1
        if result < 0 && roundError == 0 { roundError = result }
        if inFlight > 0 { return .continuing }
        if roundError != 0 {
            let error = roundError
            roundError = 0
            if !errorLogged {
                Log.error(context.logName, "\(SystemError(negated: error, operation: "send to \(endpoint)")); retrying with backoff, events held")
                errorLogged = true
            }
            return .failed(error, reported: true, wrote: start(roundStart) - startByte)
        }
        if submitRound(context: context) { return .continuing }
        if errorLogged {
            Log.info(context.logName, "sending to \(endpoint) again")
            errorLogged = false
        }
        return .wrote(end(records - 1) - startByte)
    }

    // MARK: Socket

    mutating func tick(context: OutputContext) { connection.tick(context: context) }

    func close() { connection.close() }

    func dispose() { connection.dispose() }
}
