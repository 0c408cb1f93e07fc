/// Node-wide tunables; every one is a `sluice run` flag and a `settings:` key of the same name.
public struct NodeSettings: Sendable {
    /// CPUs to run workers on, one worker each (`--cpus`); empty: all allowed CPUs.
    public var cpus: [Int] = []
    /// Workers (`--workers`); 0: one per CPU in `cpus`.
    public var workers: Int = 0
    public var pool = PoolConfiguration()
    /// Events per output batch (`--batch-size`).
    public var batchSize = NodeSettings.defaultBatchSize
    /// False once `--batch-size` (or the key) set `batchSize`: only then does an output that
    /// prefers larger batches (`OutputDefinition.preferredBatchSize`) take its own.
    public var batchSizeIsDefault = true
    /// Longest time an event waits in an output batch (`--flush-interval`).
    public var flushIntervalMicros = NodeSettings.defaultFlushIntervalMicros
    /// Submission queue entries per worker ring (`--ring-entries`).
    public var ringEntries = NodeSettings.defaultRingEntries
    /// Bytes per file read (`--read-buffer-size`); each file source has two.
    public var readBufferBytes = NodeSettings.defaultReadBufferBytes
    /// File sources one worker holds at once (`--max-file-sources`): files being read, and
    /// finished ones until every event of theirs came back; at most the source id's 12 bits.
    public var maxFileSources = SourceIDs.maxSourcesPerWorker
    /// Bytes per output write buffer (`--output-buffer-size`); each output has two.
    public var outputBufferBytes = NodeSettings.defaultOutputBufferBytes
    /// False once `--output-buffer-size` (or the key) set `outputBufferBytes`: only then does an
    /// output that prefers larger buffers (`OutputDefinition.preferredOutputBufferBytes`) take its own.
    public var outputBufferBytesIsDefault = true
    /// Provided receive buffers per worker for tcp (`--recv-buffers`, power of two) and their size (`--recv-buffer-size`).
    public var recvBuffers = NodeSettings.defaultRecvBuffers
    public var recvBufferBytes = NodeSettings.defaultRecvBufferBytes
    /// How long an idle worker watches its rings before sleeping (`--idle-spin`).
    public var idleSpinMicros = NodeSettings.defaultIdleSpinMicros
    /// Workers spin instead of sleeping (`--busy-poll`).
    public var busyPoll = false
    /// Kernel submission polling thread (`--sqpoll`), optionally pinned (`--sqpoll-cpu`).
    public var sqpoll = false
    public var sqpollCPU: Int? = nil
    /// Node-local slabs through libnuma (`--numa`).
    public var numa = true
    /// Pin each worker to its CPU (`--pin`).
    public var pin = true
    /// Longest drain on SIGTERM/SIGINT before exiting non-zero (`--shutdown-timeout`).
    public var shutdownTimeoutMicros = NodeSettings.defaultShutdownTimeoutMicros
    /// A worker whose loop does not turn for this long is reported stalled (`--stall-timeout`).
    public var stallTimeoutMicros = NodeSettings.defaultStallTimeoutMicros
    /// What the control thread does about a stalled worker (`--on-stall`).
    public var onStall = StallPolicy.log
    /// Where the admin HTTP API listens (`--admin`); nil: nowhere (`--admin off`).
    public var admin: AdminAddress? = AdminAddress.defaultAddress
    /// Set when `admin` was chosen explicitly: failing to listen there is then a setup error;
    /// the default address is best effort (a warning).
    public var adminRequired = false

    public static let defaultBatchSize = 256
    public static let defaultIdleSpinMicros = 50
    public static let defaultFlushIntervalMicros = 5_000
    public static let defaultRingEntries = 1024
    public static let defaultReadBufferBytes = 256 << 10
    public static let defaultOutputBufferBytes = 1 << 20
    /// 2 MiB of 16 KiB buffers per worker: the kernel hands them out in ring order, so under load
    /// every one is resident; 256 measured no faster in tcp-file (perf/README.md, memory).
    public static let defaultRecvBuffers = 128
    public static let defaultRecvBufferBytes = 16 << 10
    public static let defaultShutdownTimeoutMicros = 10_000_000
    public static let defaultStallTimeoutMicros = 5_000_000

    public init() {}
}

/// Tunables a pipeline may set for itself (its `settings:`); nil: the node's value.
public struct PipelineTuning: Sendable, Equatable {
    public var batchSize: Int?
    public var flushIntervalMicros: Int?
    public var outputBufferBytes: Int?
    /// The setting names a pipeline may carry; the others are node-wide.
    public static let names = ["batch-size", "flush-interval", "output-buffer-size"]
    public init() {}
}

/// One output of a pipeline and its route: the events it writes.
public struct PipelineOutput: Sendable {
    public var definition: OutputDefinition
    /// The events this output writes; nil: every event.
    public var route: Condition?

    public init(_ definition: OutputDefinition, route: Condition? = nil) {
        self.definition = definition
        self.route = route
    }
}

/// One pipeline: inputs → actions → outputs.
public struct PipelineDefinition: Sendable {
    public var name: String
    public var inputs: [InputDefinition]
    public var actions: [Action]
    /// `split` and `join` actions a pipeline may have, fewer than the worker's pending stack
    /// (`Worker.maxPendingEvents`): each nests at most one emitted event.
    public static let maxEmittingActions = 32
    /// At least one, at most `maxOutputs`. Every event passes through every output's queue
    /// (written where its route matches, else only holding its place), and is released once
    /// all of them acknowledged it.
    public var outputs: [PipelineOutput]
    public var tuning = PipelineTuning()
    /// Outputs one pipeline may have (one bit each in `EventHeader.routes`).
    public static let maxOutputs = 32

    public init(name: String, inputs: [InputDefinition], actions: [Action], outputs: [PipelineOutput]) {
        precondition(!outputs.isEmpty && outputs.count <= PipelineDefinition.maxOutputs, "a pipeline has 1 to \(PipelineDefinition.maxOutputs) outputs")
        self.name = name
        self.inputs = inputs
        self.actions = Action.linked(actions)
        self.outputs = outputs
    }

    public init(name: String, inputs: [InputDefinition], actions: [Action], output: OutputDefinition) {
        self.init(name: name, inputs: inputs, actions: actions, outputs: [PipelineOutput(output)])
    }

    /// Whether any output is of this kind.
    public func hasOutput(where test: (OutputDefinition) -> Bool) -> Bool { outputs.contains { test($0.definition) } }

    /// Frees the actions' and routes' memory: the definition's own and what its workers' copies
    /// shared. Only for a definition no worker runs (never installed, or replaced everywhere).
    public func dispose() {
        for action in actions {
            action.dispose()
            action.disposeShared()
        }
        for output in outputs {
            output.route?.disposeScratch()
            output.route?.disposeShared()
        }
    }
}
