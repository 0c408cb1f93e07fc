/// What the control thread hands each input family's `prepare`: the node's shape, the input
/// being prepared, and what the preparation of all inputs shares (the round robin of readers,
/// the offsets book). Failures are `Node.SetupError`s naming the pipeline and the input.
struct InputPreparation {
    let workerCount: Int
    let settings: NodeSettings
    let offsets: OffsetBook
    /// Open connections per tcp input (by its counter row), over all workers.
    let openConnections: UnsafeMutablePointer<UInt64>
    /// The pipeline slot being prepared and its name.
    var slot = 0
    var pipelineName = ""
    /// The input's per-plugin counter row.
    var inputRow: Int32 = 0
    /// The next worker to read a file or stdin: files are spread round-robin over all file-like
    /// inputs, and a stream is processed by the worker that reads it (handing one busy stream's
    /// batches to another worker cost more than decoding them; perf/README.md, stream locality).
    var nextReader = 0
    /// The shortest `offsets-interval` among the inputs that keep offsets.
    var offsetsIntervalMicros = Int.max

    func failure(_ input: String, _ problem: String) -> Node.SetupError {
        Node.SetupError(description: "pipeline \(pipelineName): input \(input): \(problem)")
    }
}
