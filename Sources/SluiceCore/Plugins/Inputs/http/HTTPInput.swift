/// `http`: an HTTP/1.1 server for log shippers. `POST` of NDJSON to any path (one event per
/// line), and the Elasticsearch bulk API (`POST /_bulk`, `POST /{index}/_bulk`: action lines
/// dropped, `_index` kept as the first field of each document) with an Elasticsearch-shaped
/// answer; `GET /` answers as Elasticsearch 8 does, so Beats and Elasticsearch clients ship
/// into Sluice unchanged.
///
/// With `ack=output` a request is answered only once every one of its events was acknowledged
/// by the outputs: end-to-end at-least-once for senders that retry unanswered requests.
/// Every limit of a request is a parameter; a request over one is answered 400 or 413
/// and its connection closed. With `tls-cert` and `tls-key` it serves HTTPS (`TLSServerOptions`);
/// answers are encrypted on the worker and sent through its ring.
public struct HTTPInput: Sendable {
    public enum Acknowledge: String, Sendable, CaseIterable { case output, receive }

    static let listen = Parameter.defaulted("listen", .address(example: "127.0.0.1:9200", portZero: true),
                                            default: IPv4Endpoint(host: "127.0.0.1", port: 9200), doc: "address and port to listen on")
    static let ack = Parameter.choice("ack", default: Acknowledge.output,
                                      doc: "answer a request once the outputs acknowledged all its events (output), or once they are in the pool (receive)")
    // Elasticsearch's own http.max_content_length: what shippers already size their bulk
    // requests for (Beats, Logstash and the clients stay well below it).
    static let maxBody = Parameter.size("max-body", default: "100MiB", atLeast: "1KiB", example: "100MiB",
                                        doc: "largest request body, counted after decompression; larger ones are answered 413")
    // Elasticsearch's http.max_header_size.
    static let maxHeaderBytes = Parameter.size("max-header-size", default: "16KiB", atLeast: "1KiB", example: "16KiB",
                                               doc: "largest request line and headers together; larger ones are answered 400 and the connection closed")
    static let maxHeaders = Parameter.int("max-headers", default: 100, range: 1...10_000,
                                          doc: "most header fields in a request; more are answered 400 and the connection closed")
    static let maxConnections = Parameter.int("max-connections", default: 1024, range: 1...SourceIDs.maxSourcesPerWorker,
                                              doc: "open connections allowed across the node; more are accepted and closed at once (connections_rejected)")
    static let idleTimeout = Parameter.duration("idle-timeout", default: "60s", example: "60s (0: never)",
                                                doc: "close a keep-alive connection that starts no request for this long (0: never)")
    static let requestTimeout = Parameter.duration("request-timeout", default: "60s", atLeast: "100ms", example: "60s",
                                                   doc: "close a connection whose request (headers and body) takes longer than this to arrive")
    // A pool full for a moment is ordinary backpressure (the sender waits a little, TCP holds
    // it); a pool full for this long means the outputs are behind, and new senders are told so.
    static let refuseAfter = Parameter.duration("refuse-after", default: "100ms", example: "100ms (0: at once)",
                                                doc: "answer new requests 429 (body read and dropped) once the event pool has been full this long")
    public static let parameters = [listen.doc, ack.doc, maxBody.doc, maxHeaderBytes.doc, maxHeaders.doc,
                                    maxConnections.doc, idleTimeout.doc, requestTimeout.doc, refuseAfter.doc] + TLSServerOptions.parameters

    public let host: String
    public let port: UInt16
    public let acknowledge: Acknowledge
    public let maxBodyBytes: Int
    public let maxHeaderBytes: Int
    public let maxHeaderCount: Int
    public let maxConnections: Int
    public let idleTimeoutMicros: Int
    public let requestTimeoutMicros: Int
    public let refuseAfterMicros: Int
    public let tls: TLSServerOptions?

    public init(_ arguments: PluginArguments) throws(PluginArgumentError) {
        try arguments.checkKnown(Self.parameters)
        let listen = try arguments.value(Self.listen)
        host = listen.host
        port = listen.port
        acknowledge = try arguments.value(Self.ack)
        maxBodyBytes = try arguments.value(Self.maxBody)
        maxHeaderBytes = try arguments.value(Self.maxHeaderBytes)
        maxHeaderCount = try arguments.value(Self.maxHeaders)
        maxConnections = try arguments.value(Self.maxConnections)
        idleTimeoutMicros = try arguments.value(Self.idleTimeout)
        requestTimeoutMicros = try arguments.value(Self.requestTimeout)
        refuseAfterMicros = try arguments.value(Self.refuseAfter)
        tls = try TLSServerOptions.parse(arguments)
    }
}

extension HTTPInput: InputPlugin {
    public static let name = "http"
    public static let summary = "NDJSON POSTs and the Elasticsearch bulk API over HTTP/1.1; answered after the outputs acknowledged (ack=output)"
    static func make(_ arguments: PluginArguments) throws(PluginArgumentError) -> HTTPInput {
        try HTTPInput(arguments)
    }
    public var definition: InputDefinition { .http(self) }

    func prepare(_ preparation: inout InputPreparation, into assignments: inout [WorkerAssignment]) throws(Node.SetupError) {
        try HTTPFamily.prepare(self, &preparation, into: &assignments)
    }
}

extension Counter {
    public static let httpRequests = Counter(plugin: HTTPInput.httpRequests)
    public static let httpErrors = Counter(plugin: HTTPInput.httpErrors)
}

extension HTTPInput {
    static let httpRequests = CounterSpec("http_requests", "HTTP requests the http input read (their heads at least).")
    static let httpErrors = CounterSpec("http_errors", "HTTP requests the http input refused (4xx/5xx: malformed, over a limit, pool full); their connections were closed.")
    public static let counters = [httpRequests, httpErrors]
}
