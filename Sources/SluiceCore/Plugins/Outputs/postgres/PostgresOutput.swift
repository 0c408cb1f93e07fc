import CSupport
import Glibc

/// `postgres`: copies each batch into a PostgreSQL table with `COPY … FROM STDIN` (text
/// format) inside a transaction, through libpq over one connection per worker; a batch is
/// acknowledged once its `COMMIT` succeeded.
///
/// Rows come from the events' fields (`columns=COL:PATH`, repeated) and/or the whole event
/// (`json-column=COL`). With `conflict=COL` the batch is copied into a temporary table and
/// inserted from there with `ON CONFLICT (COL…) DO NOTHING`, so a batch sent again after a
/// crash or a lost answer adds no duplicates. Rows the server refuses (SQLSTATE classes 22 and
/// 23: a value that does not fit its column, a constraint) go to `dead-letter` with the
/// server's error; the row is found from the error's `COPY …, line N` (or by halving the batch)
/// and the other rows are copied again. Any other error — the server down, the table missing —
/// is retried with backoff and jitter, the events held.
public struct PostgresOutput: Sendable {
    static let dsn = Parameter.required("dsn", .text,
                                        doc: "libpq connection URI or key=value string (postgresql://USER@ADDRESS:PORT/DB); the host is an address, a socket directory or localhost")
    static let table = Parameter.required("table", .text, doc: "table to copy into: NAME or SCHEMA.NAME (quoted as given: names are case-sensitive)")
    static let columns = Parameter.repeatable("columns", .text, required: false,
                                              doc: "COL:PATH, repeatable: column COL takes the value at the dotted field PATH (strings as their text, objects and arrays as JSON text, null or missing as NULL); COL:PATH:json sends strings as JSON too (for json/jsonb columns)")
    static let jsonColumn = Parameter.optional("json-column", .text, doc: "column that takes the whole event as JSON text (json, jsonb or text), after the `columns`")
    static let conflict = Parameter.repeatable("conflict", .text, required: false,
                                               doc: "columns of a unique index or key (repeatable, or comma-separated): rows already in the table are skipped (INSERT … ON CONFLICT DO NOTHING from a temporary table), so replays add no duplicates")
    static let timeout = Parameter.duration("timeout", default: "30s", atLeast: "10ms",
                                            doc: "a connection or a step of a batch with no answer by then is abandoned; the batch is sent again on a new connection")
    static let retryMax = Parameter.duration("retry-max", default: "30s", atLeast: "10ms",
                                             doc: "longest wait between reconnects and retries (server down, errors it may recover from)")
    static let connections = Lanes.parameter(default: 2)
    public static let parameters = [dsn.doc, table.doc, columns.doc, jsonColumn.doc, conflict.doc, timeout.doc, retryMax.doc,
                                    connections.doc, DeliveryOptions.deadLetter.doc] + BufferOptions.parameters

    /// One `columns=COL:PATH[:json]`.
    public struct Column: Sendable, Equatable {
        public var name: String
        public var path: String
        /// Strings go as JSON text (quoted), not as their decoded text.
        public var asJSON: Bool
    }

    public let dsn: String
    public let table: String
    public let columns: [Column]
    public let jsonColumn: String?
    public let conflict: [String]
    public let timeoutMicros: Int
    public let retryMaxMicros: Int
    /// Connections per worker (`Lanes`).
    public let connections: Int
    public let delivery: DeliveryOptions
    /// Where undelivered events wait (`buffer=memory|disk`).
    public let buffer: BufferOptions
    /// The statements sent per batch and, with `conflict`, once per connection.
    public let batchStatement: String
    public let stageStatement: String?

    /// The temporary table a batch goes through with `conflict` (one per session).
    static let stageTable = "sluice_stage"

    public init(_ arguments: PluginArguments) throws(PluginArgumentError) {
        try arguments.checkKnown(Self.parameters)
        dsn = try arguments.value(Self.dsn)
        if let problem = Self.connectionProblem(dsn) { throw PluginArgumentError(key: Self.dsn.name, problem) }
        table = try arguments.value(Self.table)
        let tableParts = table.split(separator: ".", omittingEmptySubsequences: false)
        guard tableParts.count <= 2, !tableParts.contains(where: \.isEmpty), !table.utf8.contains(0) else {
            throw PluginArgumentError(key: Self.table.name, "'\(table)' is not NAME or SCHEMA.NAME")
        }
        var columns: [Column] = []
        for spec in try arguments.value(Self.columns) { columns.append(try Self.column(spec)) }
        self.columns = columns
        jsonColumn = try arguments.value(Self.jsonColumn)
        conflict = try arguments.value(Self.conflict).flatMap { $0.split(separator: ",", omittingEmptySubsequences: false).map { String($0).trimmingCharacters(in: " ") } }
        let names = columns.map(\.name) + (jsonColumn.map { [$0] } ?? [])
        guard !names.isEmpty else {
            throw PluginArgumentError(key: Self.columns.name, "give the table's columns (columns=COL:PATH, repeatable) and/or json-column=COL")
        }
        for (i, name) in names.enumerated() {
            guard !name.isEmpty, !name.utf8.contains(0) else { throw PluginArgumentError(key: Self.jsonColumn.name, "empty column name") }
            if names[..<i].contains(name) { throw PluginArgumentError(key: Self.columns.name, "column '\(name)' is given twice") }
        }
        for key in conflict where key.isEmpty || key.utf8.contains(0) {
            throw PluginArgumentError(key: Self.conflict.name, "empty column name in '\(conflict.joined(separator: ","))'")
        }
        timeoutMicros = try arguments.value(Self.timeout)
        retryMaxMicros = try arguments.value(Self.retryMax)
        connections = try arguments.value(Self.connections)
        var delivery = DeliveryOptions()
        delivery.deadLetterPath = try arguments.value(DeliveryOptions.deadLetter)
        self.delivery = delivery
        buffer = try BufferOptions(arguments)
        (batchStatement, stageStatement) = Self.statements(table: tableParts.map(String.init), columns: names, conflict: conflict)
    }

    /// `COL:PATH` or `COL:PATH:json`, or why not.
    static func column(_ spec: String) throws(PluginArgumentError) -> Column {
        guard let colon = spec.firstIndex(of: ":"), colon != spec.startIndex else {
            throw PluginArgumentError(key: columns.name, "expected COL:PATH, got '\(spec)'")
        }
        var path = String(spec[spec.index(after: colon)...])
        var asJSON = false
        if path.hasSuffix(":json") {
            asJSON = true
            path.removeLast(5)
        }
        guard !path.isEmpty, !path.split(separator: ".", omittingEmptySubsequences: false).contains(where: \.isEmpty) else {
            throw PluginArgumentError(key: columns.name, "'\(spec)': the field path after ':' is empty or has an empty component")
        }
        return Column(name: String(spec[..<colon]), path: path, asJSON: asJSON)
    }

    /// An identifier quoted as written (`"` doubled): names are taken exactly, reserved words work.
    static func quoted(_ name: String) -> String { "\"" + name.replacingAll("\"", with: "\"\"") + "\"" }

    /// The batch's statements: `BEGIN; COPY table (cols) FROM STDIN; COMMIT`, or, with
    /// `conflict`, through the session's temporary table (made once per connection by the
    /// second statement, emptied by every commit).
    static func statements(table: [String], columns: [String], conflict: [String]) -> (batch: String, stage: String?) {
        let target = table.map(quoted).joined(separator: ".")
        let list = columns.map(quoted).joined(separator: ", ")
        guard !conflict.isEmpty else { return ("BEGIN; COPY \(target) (\(list)) FROM STDIN; COMMIT", nil) }
        let stage = quoted(stageTable)
        let batch = "BEGIN; COPY \(stage) (\(list)) FROM STDIN; INSERT INTO \(target) (\(list)) SELECT \(list) FROM \(stage) "
            + "ON CONFLICT (\(conflict.map(quoted).joined(separator: ", "))) DO NOTHING; COMMIT"
        return (batch, "CREATE TEMPORARY TABLE \(stage) ON COMMIT DELETE ROWS AS SELECT \(list) FROM \(target) WITH NO DATA")
    }

    /// Why libpq cannot use `dsn`, or why it would block the worker (a host name libpq would
    /// resolve at every connect, on the worker's thread), or nil.
    static func connectionProblem(_ dsn: String) -> String? {
        var error: UnsafeMutablePointer<CChar>? = nil
        guard let options = PQconninfoParse(dsn, &error) else {
            let text = error.map { String(cString: $0) } ?? "out of memory"
            if let error { PQfreemem(error) }
            return "libpq cannot read it: " + text.trimmingCharacters(in: "\n")
        }
        defer { PQconninfoFree(options) }
        var host = "", hostaddr = ""
        var i = 0
        while let keyword = options[i].keyword {
            let value = options[i].val.map { String(cString: $0) } ?? ""
            switch String(cString: keyword) {
            case "host": host = value
            case "hostaddr": hostaddr = value
            default: break
            }
            i += 1
        }
        guard hostaddr.isEmpty else { return nil }
        for name in host.split(separator: ",").map(String.init) where !Self.isAddressOrSocket(name) {
            return "host '\(name)' is a name, which libpq would look up on the worker's thread at every connect: give its address (host=ADDRESS, or hostaddr=ADDRESS besides host=NAME)"
        }
        return nil
    }

    static func isAddressOrSocket(_ host: String) -> Bool {
        if host.isEmpty || host == "localhost" || host.hasPrefix("/") || host.hasPrefix("@") { return true }
        var v4 = in_addr()
        var v6 = in6_addr()
        return inet_pton(AF_INET, host, &v4) == 1 || inet_pton(AF_INET6, host, &v6) == 1
    }
}

extension String {
    fileprivate func replacingAll(_ target: Character, with replacement: String) -> String {
        var out = ""
        for c in self { if c == target { out += replacement } else { out.append(c) } }
        return out
    }
}

extension PostgresOutput: OutputPlugin {
    public static let name = "postgres"
    public static let summary = "COPY each batch into a PostgreSQL table in a transaction (libpq, non-blocking); acknowledged on COMMIT, refused rows to the dead-letter file"
    static func make(_ arguments: PluginArguments) throws(PluginArgumentError) -> PostgresOutput { try PostgresOutput(arguments) }
    public var definition: OutputDefinition { .postgres(self) }

    var preferredBatchSize: Int? { buffer.kind == .disk ? OutputDefinition.bulkLoaderBatchSize : OutputDefinition.detachedBatchSize }
    var lanes: Int { connections }
    var detachesEvents: Bool { true }
    func encoder() -> OutputEncoder { .copyRows(CopyRowEncoder(columns: columns, wholeEvent: jsonColumn != nil)) }

    func sink(fd: Int32, bufferBytes: Int, batchSize: Int) -> OutputSink {
        .postgres(PostgresSink(self))
    }
}
