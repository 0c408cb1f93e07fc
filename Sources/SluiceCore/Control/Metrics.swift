import Glibc

/// Prometheus text exposition format 0.0.4: families of samples, each family's `# HELP` and
/// `# TYPE` before its samples, label values escaped.
struct PrometheusText {
    private(set) var text = ""

    mutating func family(_ name: String, _ type: String, _ help: String) {
        text += "# HELP \(name) \(help)\n# TYPE \(name) \(type)\n"
    }

    mutating func sample(_ name: String, _ labels: KeyValuePairs<String, String>, _ value: String) {
        text += name
        if !labels.isEmpty {
            text += "{" + labels.map { "\($0.key)=\"\(PrometheusText.escaped($0.value))\"" }.joined(separator: ",") + "}"
        }
        text += " \(value)\n"
    }

    mutating func sample(_ name: String, _ labels: KeyValuePairs<String, String>, _ value: UInt64) {
        sample(name, labels, String(value))
    }

    mutating func sample(_ name: String, _ labels: KeyValuePairs<String, String>, _ value: Double) {
        sample(name, labels, PrometheusText.number(value))
    }

    static func number(_ v: Double) -> String {
        if v.isNaN { return "NaN" }
        if v.isInfinite { return v > 0 ? "+Inf" : "-Inf" }
        return v == v.rounded() && abs(v) < 1e15 ? String(Int64(v)) : "\(v)"
    }

    /// Label values escape backslash, double quote and line feed.
    static func escaped(_ s: String) -> String {
        var out = ""
        for c in s.unicodeScalars {
            switch c {
            case "\\": out += "\\\\"
            case "\"": out += "\\\""
            case "\n": out += "\\n"
            default: out.unicodeScalars.append(c)
            }
        }
        return out
    }
}

extension ControlPlane {
    /// Every metric of the node, summed over workers where it is per pipeline. Names and labels
    /// are listed in the README's Operations section.
    func metricsText() -> String {
        var m = PrometheusText()
        let pipelines = node.pipelines.enumerated().filter { !node.retiredSlots.contains($0.offset) }
        let workers = 0..<shared.workerCount

        m.family("sluice_ready", "gauge", "1 when every worker runs and none is stalled (what /ready answers).")
        m.sample("sluice_ready", [:], UInt64(isReady ? 1 : 0))

        for c in Counter.allCases {
            let name = "sluice_\(c.name)_total"
            m.family(name, "counter", c.help)
            for (p, pipeline) in pipelines { m.sample(name, ["pipeline": pipeline.name], shared.sum(c, pipeline: p)) }
        }

        // Per plugin instance: inputs by their index in the pipeline, actions by theirs.
        let inputFamilies = [("sluice_input_events_total", "Records framed by one input of a pipeline (input: its index, plugin: its type)."),
                             ("sluice_input_bytes_total", "Bytes of the records framed by one input of a pipeline.")]
        for (k, (name, help)) in inputFamilies.enumerated() {
            m.family(name, "counter", help)
            for (p, pipeline) in pipelines {
                for (i, input) in pipeline.inputs.enumerated() {
                    let counts = shared.inputCounts(slot: p, input: i)
                    m.sample(name, ["pipeline": pipeline.name, "input": String(i), "plugin": input.typeName], k == 0 ? counts.events : counts.bytes)
                }
            }
        }
        let actionFamilies = [("sluice_action_dropped_total", "Events one action of a pipeline dropped (action: its index, plugin: its type)."),
                              ("sluice_action_consumed_total", "Events one action of a pipeline consumed (aggregate: folded into its rows).")]
        for (k, (name, help)) in actionFamilies.enumerated() {
            m.family(name, "counter", help)
            for (p, pipeline) in pipelines {
                for (a, action) in pipeline.actions.enumerated() {
                    let counts = shared.actionCounts(slot: p, action: a)
                    m.sample(name, ["pipeline": pipeline.name, "action": String(a), "plugin": action.typeName], k == 0 ? counts.dropped : counts.consumed)
                }
            }
        }

        m.family("sluice_event_latency_seconds", "histogram", "Time from receiving an event to the output's acknowledgement of it (delivered events).")
        for (p, pipeline) in pipelines {
            var cumulative: UInt64 = 0
            for i in 0...LatencyHistogram.finiteBucketCount {
                for w in workers { cumulative &+= shared.latency[w].read(bucket: i, pipeline: p) }
                let le = i == LatencyHistogram.finiteBucketCount ? "+Inf" : PrometheusText.number(LatencyHistogram.upperBoundSeconds(i))
                m.sample("sluice_event_latency_seconds_bucket", ["pipeline": pipeline.name, "le": le], cumulative)
            }
            let sumNanos = workers.reduce(UInt64(0)) { $0 &+ shared.latency[$1].readSumNanos(pipeline: p) }
            m.sample("sluice_event_latency_seconds_sum", ["pipeline": pipeline.name], Double(sumNanos) / 1e9)
            m.sample("sluice_event_latency_seconds_count", ["pipeline": pipeline.name], cumulative)
        }

        m.family("sluice_commit_lag_bytes", "gauge", "Bytes of a file input not yet committed (file size less the committed offset; a lower bound across a rotation).")
        for entry in node.offsets.entries {
            m.sample("sluice_commit_lag_bytes", ["pipeline": node.pipelines[entry.pipeline].name, "path": entry.path], ControlPlane.commitLagBytes(entry.record))
        }

        m.family("sluice_commit_lag_seconds", "gauge", "How long a file input has had bytes not yet committed (0 when caught up; checked once a second).")
        let lagNow = monotonicNanos()
        for entry in node.offsets.entries {
            let seconds = ControlPlane.commitLagBytes(entry.record) > 0 ? commitLagSince[entry.path].map { Double(lagNow - $0) / 1e9 } ?? 0 : 0
            m.sample("sluice_commit_lag_seconds", ["pipeline": node.pipelines[entry.pipeline].name, "path": entry.path], seconds)
        }

        bufferMetrics(&m, pipelines: pipelines)

        m.family("sluice_pool_slots", "gauge", "Event slots of the worker's pool slab.")
        for w in workers { m.sample("sluice_pool_slots", ["worker": String(w)], UInt64(shared.pool.slabs[w].slotCount)) }
        m.family("sluice_pool_free_slots", "gauge", "Free event slots of the worker's pool slab.")
        for w in workers {
            let slots = shared.pool.slabs[w].slotCount
            m.sample("sluice_pool_free_slots", ["worker": String(w)], UInt64(max(0, slots - shared.inFlight(w))))
        }
        m.family("sluice_events_in_flight", "gauge", "Events taken from the worker's slab and not yet released.")
        for w in workers { m.sample("sluice_events_in_flight", ["worker": String(w)], UInt64(max(0, shared.inFlight(w)))) }

        m.family("sluice_ring_depth", "gauge", "Event handles queued between two workers: forward (to process) and return (to release).")
        for from in workers {
            for to in workers {
                let i = from * shared.workerCount + to
                m.sample("sluice_ring_depth", ["ring": "forward", "from": String(from), "to": String(to)], UInt64(max(0, shared.forward[i].count)))
                if from != to {
                    m.sample("sluice_ring_depth", ["ring": "return", "from": String(from), "to": String(to)], UInt64(max(0, shared.returns[i].count)))
                }
            }
        }

        m.family("sluice_worker_heartbeats_total", "counter", "Turns of the worker's loop.")
        for w in workers { m.sample("sluice_worker_heartbeats_total", ["worker": String(w)], shared.heartbeat(w)) }
        m.family("sluice_worker_stalled", "gauge", "1 while the worker's heartbeat has not moved for stall-timeout.")
        for w in workers { m.sample("sluice_worker_stalled", ["worker": String(w)], UInt64(health.stalled[w] ? 1 : 0)) }
        m.family("sluice_worker_stalls_total", "counter", "Times the worker was found stalled.")
        for w in workers { m.sample("sluice_worker_stalls_total", ["worker": String(w)], health.stallCounts[w]) }
        m.family("sluice_worker_busy_seconds_total", "counter", "Time the worker spent not sleeping (working or spinning for work).")
        for w in workers { m.sample("sluice_worker_busy_seconds_total", ["worker": String(w)], Double(shared.value(w, .busyNanos)) / 1e9) }
        m.family("sluice_worker_busy_ratio", "gauge", "Share of the last second the worker spent not sleeping.")
        for w in workers { m.sample("sluice_worker_busy_ratio", ["worker": String(w)], health.busyRatio[w]) }
        m.family("sluice_backpressure_seconds_total", "counter", "Time the worker's inputs spent paused because its pool slab had no free event (backpressure).")
        for w in workers { m.sample("sluice_backpressure_seconds_total", ["worker": String(w)], Double(shared.value(w, .backpressureNanos)) / 1e9) }
        return m.text
    }

    /// The outputs with buffer=disk: (slot, pipeline name, output index, plugin).
    func diskBufferedOutputs(_ pipelines: [(offset: Int, element: PipelineDefinition)]) -> [(slot: Int, pipeline: String, output: Int, plugin: String)] {
        pipelines.flatMap { p in
            p.element.outputs.enumerated().filter { $0.element.definition.buffer.isDisk }.map { (p.offset, p.element.name, $0.offset, $0.element.definition.typeName) }
        }
    }

    /// Seconds since the oldest undelivered record of a disk buffer was received (0: none).
    func bufferAgeSeconds(slot: Int, output: Int) -> Double {
        let oldest = shared.bufferStat(.oldestWallNanos, slot: slot, output: output)
        guard oldest > 0 else { return 0 }
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        let now = UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
        return now > oldest ? Double(now - oldest) / 1e9 : 0
    }

    /// Disk buffers, per output summed over the workers.
    func bufferMetrics(_ m: inout PrometheusText, pipelines: [(offset: Int, element: PipelineDefinition)]) {
        let outputs = diskBufferedOutputs(pipelines)
        let families: [(String, String, String, BufferStats.Word?)] = [
            ("sluice_buffer_bytes", "gauge", "Bytes of a disk buffer's segment files (delivered segments until they are deleted).", .bytes),
            ("sluice_buffer_segments", "gauge", "Segment files of a disk buffer.", .segments),
            ("sluice_buffer_oldest_record_age_seconds", "gauge", "Time since the oldest record not yet delivered was received (0: none).", nil),
            ("sluice_buffer_records_written_total", "counter", "Records written to a disk buffer (their events acknowledged to the inputs).", .written),
            ("sluice_buffer_records_read_total", "counter", "Records read back from a disk buffer into events for the output.", .read),
            ("sluice_buffer_records_dropped_total", "counter", "Records dropped because a disk buffer was full (buffer-full=drop-newest).", .dropped),
            ("sluice_buffer_corrupt_total", "counter", "Stretches of corrupt bytes a disk buffer's reader skipped to the next valid record (flipped bytes, a segment cut mid-record).", .corrupt),
            ("sluice_buffer_torn_tails_total", "counter", "Torn tails (a record cut off by a crash) cut from a disk buffer's last segment at start.", .tornTails),
        ]
        for (name, type, help, word) in families {
            m.family(name, type, help)
            for o in outputs {
                let labels: KeyValuePairs<String, String> = ["pipeline": o.pipeline, "output": String(o.output), "plugin": o.plugin]
                if let word {
                    m.sample(name, labels, shared.bufferStat(word, slot: o.slot, output: o.output))
                } else {
                    m.sample(name, labels, bufferAgeSeconds(slot: o.slot, output: o.output))
                }
            }
        }
    }

    /// File size less the committed offset, for the file at the record's path: when the path
    /// now names another file (rotated, not yet reopened), all of the new file is lag.
    static func commitLagBytes(_ record: OffsetFile.Record) -> UInt64 {
        var st = stat()
        guard stat(record.path, &st) == 0 else { return 0 }
        let size = UInt64(max(0, st.st_size))
        guard UInt64(st.st_ino) == record.inode && UInt64(st.st_dev) == record.device else { return size }
        return size > record.offset ? size - record.offset : 0
    }
}
