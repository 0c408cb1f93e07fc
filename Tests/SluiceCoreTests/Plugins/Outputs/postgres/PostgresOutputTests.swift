import Testing

@testable import SluiceCore

@Suite struct PostgresOutputTests {
    static let dsn = ("dsn", "postgresql://ingest@127.0.0.1:5432/logs")

    @Test func theBatchCopiesTheColumnsThenTheWholeEventInATransaction() throws {
        let output = try PostgresOutput(arguments("postgres", Self.dsn, ("table", "public.Logs"), ("columns", "n:n"),
                                                  ("columns", "msg:request.message"), ("columns", "attrs:attributes:json"), ("json-column", "doc")))
        #expect(output.batchStatement == #"BEGIN; COPY "public"."Logs" ("n", "msg", "attrs", "doc") FROM STDIN; COMMIT"#)
        #expect(output.stageStatement == nil)
        #expect(output.columns == [.init(name: "n", path: "n", asJSON: false), .init(name: "msg", path: "request.message", asJSON: false),
                                   .init(name: "attrs", path: "attributes", asJSON: true)])
        #expect(output.jsonColumn == "doc")
        #expect(output.timeoutMicros == 30_000_000 && output.retryMaxMicros == 30_000_000)
        #expect(output.delivery.deadLetterPath == nil && !output.delivery.requireJSON)
    }

    @Test func conflictCopiesIntoTheSessionsTemporaryTableAndInsertsSkippingKeysAlreadyThere() throws {
        for given in [[("conflict", "id, ts")], [("conflict", "id"), ("conflict", "ts")]] {
            let pairs = [Self.dsn, ("table", "logs"), ("columns", "id:id"), ("columns", "ts:time"), ("columns", #"we"ird:x"#)] + given
            let output = try PostgresOutput(PluginArguments(plugin: "postgres", pairs: pairs.map { (key: $0.0, value: $0.1) }))
            #expect(output.conflict == ["id", "ts"])
            let list = #""id", "ts", "we""ird""#
            #expect(output.batchStatement == #"BEGIN; COPY "sluice_stage" ("# + list + #") FROM STDIN; INSERT INTO "logs" ("# + list + ") SELECT " + list
                + #" FROM "sluice_stage" ON CONFLICT ("id", "ts") DO NOTHING; COMMIT"#)
            #expect(output.stageStatement == #"CREATE TEMPORARY TABLE "sluice_stage" ON COMMIT DELETE ROWS AS SELECT "# + list + #" FROM "logs" WITH NO DATA"#)
        }
    }

    @Test func addressesSocketDirectoriesAndLocalhostAreTakenHostNamesAreNot() throws {
        for dsn in ["postgresql://u@127.0.0.1:5432/db", "postgresql://u@[::1]:5432/db", "postgresql:///db?host=/run/postgresql",
                    "host=localhost dbname=db", "postgresql://u@db.example/db?hostaddr=10.0.0.5", "dbname=db"] {
            #expect(throws: Never.self) { try PostgresOutput(arguments("postgres", ("dsn", dsn), ("table", "t"), ("json-column", "doc"))) }
        }
        let named = rejection { () throws(PluginArgumentError) in
            try PostgresOutput(arguments("postgres", ("dsn", "postgresql://u@db.example:5432/db"), ("table", "t"), ("json-column", "doc")))
        }
        #expect(named?.key == "dsn")
        #expect(named?.message.hasPrefix("host 'db.example' is a name, which libpq would look up on the worker's thread") == true)
        let unreadable = rejection { () throws(PluginArgumentError) in
            try PostgresOutput(arguments("postgres", ("dsn", "host=127.0.0.1 nosuchoption=1"), ("table", "t"), ("json-column", "doc")))
        }
        #expect(unreadable?.key == "dsn")
        #expect(unreadable?.message == #"libpq cannot read it: invalid connection option "nosuchoption""#)
    }

    @Test func badParametersAreRefusedNamingTheKey() {
        let cases: [([(String, String)], String, String)] = [
            ([("table", "t"), ("json-column", "doc")], "dsn", "postgres needs dsn=..."),
            ([Self.dsn, ("json-column", "doc")], "table", "postgres needs table=..."),
            ([Self.dsn, ("table", "a.b.c"), ("json-column", "doc")], "table", "'a.b.c' is not NAME or SCHEMA.NAME"),
            ([Self.dsn, ("table", "a."), ("json-column", "doc")], "table", "'a.' is not NAME or SCHEMA.NAME"),
            ([Self.dsn, ("table", "t")], "columns", "give the table's columns (columns=COL:PATH, repeatable) and/or json-column=COL"),
            ([Self.dsn, ("table", "t"), ("columns", "message")], "columns", "expected COL:PATH, got 'message'"),
            ([Self.dsn, ("table", "t"), ("columns", ":message")], "columns", "expected COL:PATH, got ':message'"),
            ([Self.dsn, ("table", "t"), ("columns", "m:")], "columns", "'m:': the field path after ':' is empty or has an empty component"),
            ([Self.dsn, ("table", "t"), ("columns", "m:a..b")], "columns", "'m:a..b': the field path after ':' is empty or has an empty component"),
            ([Self.dsn, ("table", "t"), ("columns", "m:a"), ("json-column", "m")], "columns", "column 'm' is given twice"),
            ([Self.dsn, ("table", "t"), ("json-column", "doc"), ("conflict", "a,,b")], "conflict", "empty column name in 'a,,b'"),
            ([Self.dsn, ("table", "t"), ("json-column", "doc"), ("timeout", "1ms")], "timeout", "expected a duration of at least 10ms, got '1ms'"),
            ([Self.dsn, ("table", "t"), ("json-column", "doc"), ("connections", "3")], "connections", "expected an integer in 1...2, got '3'"),
            ([Self.dsn, ("table", "t"), ("json-column", "doc"), ("format", "json")], "format", "postgres has no parameter 'format' (it takes: dsn, table, columns, json-column, conflict, timeout, retry-max, connections, dead-letter, buffer, buffer-dir, buffer-max-size, buffer-sync, buffer-full, buffer-segment-size, buffer-position-interval, buffer-sync-group)"),
        ]
        for (pairs, key, message) in cases {
            let error = rejection { () throws(PluginArgumentError) in
                try PostgresOutput(PluginArguments(plugin: "postgres", pairs: pairs.map { (key: $0.0, value: $0.1) }))
            }
            #expect(error?.key == key, "\(pairs)")
            #expect(error?.message == message, "\(pairs): \(error?.message ?? "accepted")")
        }
    }

    @Test func theRowACopyErrorNamesIsReadFromItsContext() {
        #expect(PostgresErrors.copyLine(#"COPY t, line 3, column n: "x""#) == 2)
        #expect(PostgresErrors.copyLine("COPY sluice_stage, line 1") == 0)
        #expect(PostgresErrors.copyLine("PL/pgSQL function f() line 4 at RAISE\nCOPY logs, line 12: \"a\tb\"") == 11)
        #expect(PostgresErrors.copyLine("SQL statement \"INSERT …\"") == nil)
        #expect(PostgresErrors.copyLine("COPY t, Zeile 3") == nil, "a translated server: the batch is halved instead")
        #expect(PostgresErrors.copyLine(nil) == nil)
    }

    @Test func dataAndConstraintErrorsRefuseRowsOtherErrorsAreRetried() {
        for state in ["22P02", "22001", "22021", "23505", "23502", "54000"] { #expect(PostgresErrors.refusesRows(state), "\(state)") }
        for state in ["42P01", "42703", "42501", "57P01", "53100", "40001", "08006", ""] { #expect(!PostgresErrors.refusesRows(state), "\(state)") }
    }
}
