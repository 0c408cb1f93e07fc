/// `connections=`: connections (lanes) per worker of an output whose server answers each batch
/// (postgres, clickhouse). With 2 the batcher sends its second buffer on the second connection
/// while the first batch waits for its answer (a COMMIT's WAL flush, an insert's part), and
/// acknowledges the two in the order they went out (`OutputBatcher.secondLane`).
enum Lanes {
    static let most = 2

    static func parameter(default value: Int) -> Parameter<Int> {
        .int("connections", default: value, range: 1...most,
             doc: "connections per worker: with 2 the next batch is sent on the second while the first waits for its answer (acknowledged in order)")
    }
}
