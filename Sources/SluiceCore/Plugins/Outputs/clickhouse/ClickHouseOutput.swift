/// `clickhouse`: inserts each batch into a table through ClickHouse's HTTP interface, as
/// `INSERT INTO database.table FORMAT JSONEachRow` with the events as the body (one JSON
/// object per line, its keys the column names), over one keep-alive connection per worker.
///
/// A batch is acknowledged on HTTP 200 only (ClickHouse answers once the insert is written).
/// Rows ClickHouse cannot take (a value that does not parse or fit its column: its data-error
/// codes) are found by splitting the batch in halves down to the single rows, which go to
/// `dead-letter` with ClickHouse's error text; the other rows are inserted. Any other error
/// (server down, table missing, too many parts) is retried with backoff and jitter, the events
/// held. Delivery is at least once (a batch answered too late may be inserted twice).
public struct ClickHouseOutput: Sendable {
    static let url = Parameter.defaulted("url", .httpURL, default: "http://127.0.0.1:8123", doc: "ClickHouse's HTTP interface")
    static let table = Parameter.required("table", .text, doc: "table to insert into")
    static let database = Parameter.defaulted("database", .text, default: "default", doc: "its database")
    static let user = Parameter.defaulted("user", .text, default: "", doc: "user (empty: the server's default user)")
    static let password = Parameter.defaulted("password", .text, default: "", doc: "password")
    static let compression = Parameter.choice("compression", default: HTTPEndpoint.Compression.none,
                                              doc: "body compression (gzip: ClickHouse decompresses it; zstd needs a newer server than Debian's 18.16)")
    static let connections = Lanes.parameter(default: 2)
    static let skipUnknown = Parameter.bool("skip-unknown-fields", default: false,
                                            doc: "ignore event fields that are not columns (off: such rows are refused)")
    public static let parameters = [url.doc, table.doc, database.doc, user.doc, password.doc, compression.doc, skipUnknown.doc, connections.doc]
        + HTTPOptions.parameters + BufferOptions.parameters
    public let endpoint: HTTPEndpoint
    public let delivery: DeliveryOptions
    public let buffer: BufferOptions
    /// Connections per worker (`Lanes`).
    public let connections: Int

    public init(_ arguments: PluginArguments) throws(PluginArgumentError) {
        try arguments.checkKnown(Self.parameters)
        guard case .success(let parts) = HTTPEndpoint.parseURL(try arguments.value(Self.url)) else { preconditionFailure("the url kind checked it") }
        let table = try arguments.value(Self.table)
        let database = try arguments.value(Self.database)
        for (key, name) in [(Self.table.name, table), (Self.database.name, database)] where !Self.isIdentifier(name) {
            throw PluginArgumentError(key: key, "'\(name)' is not a plain identifier (letters, digits, _; not starting with a digit)")
        }
        var query = "/?database=\(HTTPEndpoint.percentEncoded(database))"
        query += "&query=" + HTTPEndpoint.percentEncoded("INSERT INTO \(database).\(table) FORMAT JSONEachRow")
        let user = try arguments.value(Self.user)
        if !user.isEmpty { query += "&user=" + HTTPEndpoint.percentEncoded(user) }
        let password = try arguments.value(Self.password)
        if !password.isEmpty { query += "&password=" + HTTPEndpoint.percentEncoded(password) }
        if try arguments.value(Self.skipUnknown) { query += "&input_format_skip_unknown_fields=1" }
        var endpoint = HTTPEndpoint(host: parts.host, port: parts.port, target: query)
        endpoint.compression = try arguments.value(Self.compression)
        endpoint.dialect = .clickhouse
        var delivery = DeliveryOptions()
        try HTTPOptions.read(arguments, into: &endpoint, delivery: &delivery)
        self.endpoint = endpoint
        self.delivery = delivery
        buffer = try BufferOptions(arguments)
        connections = try arguments.value(Self.connections)
    }

    static func isIdentifier(_ name: String) -> Bool {
        guard let first = name.utf8.first, !(48...57).contains(first) else { return false }
        return name.utf8.allSatisfy { (48...57).contains($0) || (65...90).contains($0) || (97...122).contains($0) || $0 == 95 }
    }
}

extension ClickHouseOutput: OutputPlugin {
    public static let name = "clickhouse"
    public static let summary = "INSERT each batch into a ClickHouse table (HTTP, JSONEachRow); acknowledged on 200, refused rows to the dead-letter file"
    static func make(_ arguments: PluginArguments) throws(PluginArgumentError) -> ClickHouseOutput { try ClickHouseOutput(arguments) }
    public var definition: OutputDefinition { .clickhouse(self) }

    var preferredBatchSize: Int? { buffer.kind == .disk ? OutputDefinition.bulkLoaderBatchSize : OutputDefinition.detachedBatchSize }
    var lanes: Int { connections }
    var detachesEvents: Bool { true }
    /// Unless `--output-buffer-size` is set: ClickHouse 18 makes a part per INSERT and merges the
    /// parts while the next inserts come, so fewer, larger inserts are cheaper for it. 1,000,000
    /// rows of 134 B went in 128 inserts of 1 MiB at 0.46 of clickhouse-client's rate and in 35
    /// of 4 MiB at 0.94 (perf/README.md); two such buffers per worker are resident only while
    /// batches fill them.
    static let preferredBufferBytes = 4 << 20
    var preferredOutputBufferBytes: Int? { buffer.kind == .disk ? nil : Self.preferredBufferBytes }

    func sink(fd: Int32, bufferBytes: Int, batchSize: Int) -> OutputSink {
        .http(HTTPSink(endpoint, bufferBytes: bufferBytes))
    }
}
