import Testing

@testable import SluiceCore

@Suite struct ClickHouseOutputTests {
    @Test func theInsertQueryNamesDatabaseTableAndFormat() throws {
        let output = try ClickHouseOutput(arguments("clickhouse", ("url", "http://127.0.0.1:8123"), ("table", "logs"), ("database", "web"),
                                                    ("user", "ingest"), ("password", "p&ss w"), ("skip-unknown-fields", "true")))
        #expect(output.endpoint.target == "/?database=web&query=INSERT%20INTO%20web.logs%20FORMAT%20JSONEachRow&user=ingest&password=p%26ss%20w"
            + "&input_format_skip_unknown_fields=1")
        #expect(output.endpoint.dialect == .clickhouse)
        #expect(output.endpoint.port == 8123)
    }

    @Test func tableAndDatabaseMustBePlainIdentifiers() {
        for (key, value) in [("table", "logs; DROP TABLE x"), ("database", "1db"), ("table", "a.b")] {
            var pairs = [("table", "logs")]
            pairs.append((key, value))
            let error = rejection { () throws(PluginArgumentError) in
                try ClickHouseOutput(PluginArguments(plugin: "clickhouse", pairs: pairs.reversed().reduce(into: [(key: String, value: String)]()) { list, p in
                    if !list.contains(where: { $0.key == p.0 }) { list.append((key: p.0, value: p.1)) }
                }))
            }
            #expect(error?.key == key)
            #expect(error?.message == "'\(value)' is not a plain identifier (letters, digits, _; not starting with a digit)")
        }
        #expect(rejection { () throws(PluginArgumentError) in try ClickHouseOutput(arguments("clickhouse")) }?.key == "table")
    }

    @Test func dataErrorCodesAreReadFromTheServersText() {
        func code(_ text: String) -> Int? {
            let bytes = Array(text.utf8)
            return bytes.withUnsafeBytes { ClickHouseErrors.code(in: $0.baseAddress!, count: $0.count) }
        }
        #expect(code("Code: 27, e.displayText() = DB::Exception: Cannot parse input") == 27)
        #expect(code("Code: 60, e.displayText() = DB::Exception: Table default.x doesn't exist") == 60)
        #expect(code("no code here") == nil)
        #expect(code("Code: x") == nil)
        #expect(ClickHouseErrors.isDataError(27) && ClickHouseErrors.isDataError(6))
        #expect(!ClickHouseErrors.isDataError(60) && !ClickHouseErrors.isDataError(252))
    }
}
