/// `http`: POSTs each batch to a URL, as NDJSON or a JSON array, optionally gzip- or
/// zstd-compressed, over one keep-alive connection per worker.
///
/// A batch is acknowledged only on a 2xx answer. 408, 429 and 5xx are retried with backoff and
/// jitter (Retry-After honoured up to `retry-max`), as is a lost connection or an answer that
/// does not come within `timeout`; meanwhile the events are held and the inputs pause. Any other
/// 4xx refuses the batch: it is split in halves and sent again down to the single events the
/// server refuses, which go to `dead-letter` with the server's answer (or are dropped and
/// counted without it). Delivery is at least once: a batch answered too late is sent again.
public struct HTTPOutput: Sendable {
    static let url = Parameter.required("url", .httpURL, doc: "where to POST: http://ADDRESS[:PORT]/PATH[?QUERY] (IPv4 address or localhost)")
    static let format = Parameter.choice("format", default: HTTPEndpoint.BodyFormat.ndjson,
                                         doc: "body: ndjson (one event per line) or json-array (events that are not valid JSON are rejected)")
    static let compression = Parameter.choice("compression", default: HTTPEndpoint.Compression.none,
                                              doc: "body compression, sent as Content-Encoding")
    static let header = Parameter.repeatable("header", .httpHeader, required: false, doc: "an extra request header NAME:VALUE (repeatable)")
    public static let parameters = [url.doc, format.doc, compression.doc, header.doc] + HTTPOptions.parameters + BufferOptions.parameters
    public let endpoint: HTTPEndpoint
    public let delivery: DeliveryOptions
    public let buffer: BufferOptions

    public init(_ arguments: PluginArguments) throws(PluginArgumentError) {
        try arguments.checkKnown(Self.parameters)
        let text = try arguments.value(Self.url)
        guard case .success(let parts) = HTTPEndpoint.parseURL(text) else { preconditionFailure("the url kind checked it") }
        var endpoint = HTTPEndpoint(host: parts.host, port: parts.port, target: parts.target)
        endpoint.format = try arguments.value(Self.format)
        endpoint.compression = try arguments.value(Self.compression)
        endpoint.headers = try arguments.value(Self.header)
        var delivery = DeliveryOptions()
        // A JSON array breaks on one invalid event: those are rejected before they are sent.
        delivery.requireJSON = endpoint.format == .jsonArray
        try HTTPOptions.read(arguments, into: &endpoint, delivery: &delivery)
        self.endpoint = endpoint
        self.delivery = delivery
        buffer = try BufferOptions(arguments)
    }
}

extension HTTPOutput: OutputPlugin {
    public static let name = "http"
    public static let summary = "POST each batch over HTTP/1.1 (keep-alive); acknowledged on 2xx, 429/5xx retried, refused events to the dead-letter file"
    static func make(_ arguments: PluginArguments) throws(PluginArgumentError) -> HTTPOutput { try HTTPOutput(arguments) }
    public var definition: OutputDefinition { .http(self) }

    func sink(fd: Int32, bufferBytes: Int, batchSize: Int) -> OutputSink {
        .http(HTTPSink(endpoint, bufferBytes: bufferBytes))
    }
}
