/// `elasticsearch`: sends each batch to Elasticsearch's bulk API (`POST /_bulk`, one action
/// line and one document line per event) over one keep-alive HTTP/1.1 connection per worker.
///
/// The index comes from `index`, a pattern of literal text, date directives (`%Y %y %m %d %H
/// %j`, UTC) and `${PATH}` (the event's field, lower-cased; `not_set` when missing). The date is
/// the event's `time-field` when given and readable (RFC 3339, or epoch seconds or
/// milliseconds), else the node's clock when the event is encoded.
///
/// The answer is read item by item: events Elasticsearch took are acknowledged; events it
/// answered 429 or 5xx are sent again (only those) with backoff and jitter; events it refused
/// with another 4xx (a mapping error) go to `dead-letter` with its error type and reason. A
/// whole request answered 429/5xx is retried (Retry-After honoured); one answered another 4xx
/// is split in halves down to the events refused. Events must be JSON objects (others are
/// rejected before sending). Delivery is at least once.
public struct ElasticsearchOutput: Sendable {
    public enum Action: String, Sendable, CaseIterable { case index, create }
    public enum Compression: String, Sendable, CaseIterable { case none, gzip }

    static let url = Parameter.defaulted("url", .httpURL, default: "http://127.0.0.1:9200",
                                         doc: "Elasticsearch (or a compatible bulk API): http://ADDRESS[:PORT][/PREFIX][?QUERY]; /_bulk is added to the path")
    static let index = Parameter.required("index", .text, doc: "index name pattern: text, %Y %y %m %d %H %j (UTC) and ${PATH} (the event's field)")
    static let action = Parameter.choice("action", default: Action.index, doc: "bulk action: index, or create (data streams take only create)")
    static let timeField = Parameter.optional("time-field", .text,
                                              doc: "field whose time (RFC 3339, epoch seconds or milliseconds) dates the index; without it or when unreadable, the node's clock")
    static let compression = Parameter.choice("compression", default: Compression.none, doc: "request body compression (Content-Encoding)")
    static let user = Parameter.optional("user", .text, doc: "user for HTTP basic authentication")
    static let password = Parameter.defaulted("password", .text, default: "", doc: "password for HTTP basic authentication")
    static let apiKey = Parameter.optional("api-key", .text, doc: "an API key (its base64 form), sent as Authorization: ApiKey")
    static let header = Parameter.repeatable("header", .httpHeader, required: false, doc: "an extra request header NAME:VALUE (repeatable)")
    public static let parameters = [url.doc, index.doc, action.doc, timeField.doc, compression.doc, user.doc, password.doc, apiKey.doc, header.doc]
        + HTTPOptions.parameters + BufferOptions.parameters
    public let endpoint: HTTPEndpoint
    public let delivery: DeliveryOptions
    /// Where undelivered events wait (`buffer=memory|disk`).
    public let buffer: BufferOptions
    public let index: String
    public let action: Action
    public let timeField: String?

    public init(_ arguments: PluginArguments) throws(PluginArgumentError) {
        try arguments.checkKnown(Self.parameters)
        guard case .success(let parts) = HTTPEndpoint.parseURL(try arguments.value(Self.url)) else { preconditionFailure("the url kind checked it") }
        index = try arguments.value(Self.index)
        _ = try IndexPattern.compile(index)
        action = try arguments.value(Self.action)
        timeField = try arguments.value(Self.timeField)
        if let timeField {
            do { try FieldPath(timeField).dispose() } catch { throw PluginArgumentError(key: Self.timeField.name, error.message) }
        }
        var endpoint = HTTPEndpoint(host: parts.host, port: parts.port, target: Self.bulkTarget(parts.target))
        endpoint.compression = try arguments.value(Self.compression) == .gzip ? .gzip : .none
        endpoint.headers = try arguments.value(Self.header)
        let user = try arguments.value(Self.user)
        let apiKey = try arguments.value(Self.apiKey)
        if user != nil && apiKey != nil { throw PluginArgumentError(key: Self.apiKey.name, "give user and password, or api-key, not both") }
        if endpoint.headers.contains(where: { $0.lowercased().hasPrefix("authorization:") }) && (user != nil || apiKey != nil) {
            throw PluginArgumentError(key: Self.header.name, "an Authorization header and user/api-key both set it")
        }
        if let user {
            let credentials = DeadLetterQueue.base64(Array("\(user):\(try arguments.value(Self.password))".utf8))
            endpoint.headers.append("Authorization: Basic " + String(decoding: credentials, as: UTF8.self))
        } else if let apiKey {
            guard !apiKey.utf8.contains(where: { $0 < 33 || $0 > 126 }) else {
                throw PluginArgumentError(key: Self.apiKey.name, "an API key is printable ASCII without spaces")
            }
            endpoint.headers.append("Authorization: ApiKey " + apiKey)
        }
        endpoint.dialect = .elasticsearchBulk
        var delivery = DeliveryOptions()
        delivery.requireJSON = true  // a document line that is not JSON breaks the bulk body
        try HTTPOptions.read(arguments, into: &endpoint, delivery: &delivery)
        self.endpoint = endpoint
        self.delivery = delivery
        buffer = try BufferOptions(arguments)
    }

    /// The URL's path with `/_bulk` added (unless it ends with it), its query kept.
    static func bulkTarget(_ target: String) -> String {
        var path = target
        var query = ""
        if let q = target.firstIndex(of: "?") {
            path = String(target[..<q])
            query = String(target[q...])
        }
        while path.hasSuffix("/") { path.removeLast() }
        if !path.hasSuffix("/_bulk") { path += "/_bulk" }
        return path + query
    }
}

extension ElasticsearchOutput: OutputPlugin {
    public static let name = "elasticsearch"
    public static let summary = "the Elasticsearch bulk API (index name from a pattern); each event judged by its item: 429/5xx items retried, refused ones to the dead-letter file"
    static func make(_ arguments: PluginArguments) throws(PluginArgumentError) -> ElasticsearchOutput { try ElasticsearchOutput(arguments) }
    public var definition: OutputDefinition { .elasticsearch(self) }

    func encoder() -> OutputEncoder { .elasticsearchBulk(ElasticsearchBulkEncoder(self)) }

    func sink(fd: Int32, bufferBytes: Int, batchSize: Int) -> OutputSink {
        .http(HTTPSink(endpoint, bufferBytes: bufferBytes, items: batchSize))
    }
}
