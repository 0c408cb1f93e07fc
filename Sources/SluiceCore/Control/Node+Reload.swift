import CSupport
import Glibc

/// Reload: SIGHUP with only pipelines changed restarts just those. The control
/// thread drives the protocol of `PipelineSlots` one step per control-loop turn and never
/// waits; the workers do the stopping and the installing on their own threads.
struct PipelineReload {
    enum Stage { case draining, finalizing, installing }
    var round: UInt64
    var stage: Stage
    /// Slots drained: changed and removed pipelines.
    var stops: [Int]
    /// Slots started: changed pipelines (same slot) and added ones (new slots).
    var starts: [(slot: Int, definition: PipelineDefinition)]
    var summary: String
    /// Counter rows for the started pipelines, taken into use when they are installed (until
    /// then the metrics still read the old definitions' rows).
    var rows: PluginRows
    var startedNanos: UInt64
    var waitLogged = false
    /// Definitions this reload replaces: their actions' shared memory is freed once every
    /// worker installed (and so disposed its copies of them).
    var replaced: [PipelineDefinition] = []
}

extension Node {
    /// Live (not retired) slot of each pipeline name.
    var liveSlots: [String: Int] {
        var result: [String: Int] = [:]
        for (slot, p) in pipelines.enumerated() where !retiredSlots.contains(slot) { result[p.name] = slot }
        return result
    }

    func beginReload(_ definitions: [PipelineDefinition], changed: Set<String>, control: ControlPlane) {
        let live = liveSlots
        let wanted = Set(definitions.map(\.name))
        var stops: [Int] = []
        var starts: [(slot: Int, definition: PipelineDefinition)] = []
        var kept: [String] = [], restarted: [String] = [], added: [String] = [], removed: [String] = []
        for (name, slot) in live.sorted(by: { $0.value < $1.value }) where !wanted.contains(name) {
            stops.append(slot)
            removed.append(name)
        }
        var nextSlot = pipelines.count
        for d in definitions {
            if let slot = live[d.name] {
                if changed.contains(d.name) {
                    stops.append(slot)
                    starts.append((slot, d))
                    restarted.append(d.name)
                } else {
                    kept.append(d.name)
                }
            } else {
                starts.append((nextSlot, d))
                nextSlot += 1
                added.append(d.name)
            }
        }
        // The node owns the definitions it was given: those it does not start are freed now.
        for d in definitions where !starts.contains(where: { $0.definition.name == d.name }) { d.dispose() }
        if stops.isEmpty && starts.isEmpty {
            Log.info("node", "SIGHUP: the configuration is unchanged; nothing to do")
            return
        }
        var rows = control.shared.pluginRows
        let roomForRows = starts.allSatisfy { rows.assign(slot: $0.slot, $0.definition) }
        if nextSlot > control.shared.slotCapacity || !roomForRows {
            Log.info("node", "SIGHUP: the node has room for \(control.shared.slotCapacity) pipeline slots and \(rows.inputCapacity) input and \(rows.actionCapacity) action counter rows over its life, and this reload needs more: draining, then restarting in place with the new configuration")
            control.notifyReloading()
            restartRequested = true
            for start in starts { start.definition.dispose() }
            return
        }
        reloadRound += 1
        func list(_ names: [String]) -> String { names.isEmpty ? "none" : names.joined(separator: ", ") }
        let summary = "restarted: \(list(restarted)); added: \(list(added)); removed: \(list(removed)); kept running: \(list(kept))"
        Log.info("node", "SIGHUP: reloading pipelines (\(summary))")
        control.notifyReloading()
        pipelineReload = PipelineReload(round: reloadRound, stage: .draining, stops: stops, starts: starts,
                                        summary: summary, rows: rows, startedNanos: monotonicNanos())
        for slot in stops { control.shared.setSlotState(slot, round: reloadRound, .stopping) }
        control.shared.announceReconfiguration()
        if stops.isEmpty { install(shared: control.shared, control: control) }
    }

    /// One step of the reload under way; called every control-loop turn.
    func advanceReload(shared: NodeShared, control: ControlPlane, now: UInt64) {
        guard var reload = pipelineReload else { return }
        let elapsed = now > reload.startedNanos ? now - reload.startedNanos : 0
        func acknowledged(_ slot: Int, _ ack: PipelineSlots.Ack) -> Bool {
            (0..<workerCount).allSatisfy { shared.slotAck(worker: $0, slot: slot) == reload.round << 2 | ack.rawValue }
        }
        switch reload.stage {
        case .draining:
            // Acknowledgements first: the events counted after them are final.
            let quiet = reload.stops.allSatisfy { acknowledged($0, .quiet) }
            let empty = quiet && reload.stops.allSatisfy { shared.eventsInFlight(slot: $0) == 0 }
            if !empty {
                if !reload.waitLogged && elapsed > UInt64(settings.shutdownTimeoutMicros) * 1000 {
                    let held = reload.stops.map { "\(pipelines[$0].name): \(shared.eventsInFlight(slot: $0)) event(s)" }.joined(separator: ", ")
                    Log.warn("node", "reload: still draining after \(settings.shutdownTimeoutMicros / 1000) ms (\(quiet ? "inputs stopped" : "inputs still closing"); in flight: \(held)); nothing is dropped, it waits")
                    reload.waitLogged = true
                    pipelineReload = reload
                }
                return
            }
            let aggregating = reload.stops.filter { slot in pipelines[slot].actions.contains { if case .aggregate = $0.kind { true } else { false } } }
            if !aggregating.isEmpty {
                for slot in aggregating { shared.setSlotState(slot, round: reload.round, .finalizing) }
                shared.announceReconfiguration()
                reload.stage = .finalizing
                pipelineReload = reload
                return
            }
            install(shared: shared, control: control)
        case .finalizing:
            for slot in reload.stops where shared.slotState(slot).phase == .finalizing {
                if !acknowledged(slot, .final) || shared.eventsInFlight(slot: slot) != 0 { return }
            }
            install(shared: shared, control: control)
        case .installing:
            guard (0..<workerCount).allSatisfy({ shared.value($0, .installed) >= reload.round }) else { return }
            // Every worker disposed its copies of the replaced definitions when it installed.
            for definition in reload.replaced { definition.dispose() }
            let ms = Double(elapsed) / 1e6
            Log.info("node", "reload done in \(Node.fixed(ms, 1)) ms (\(reload.summary))")
            pipelineReload = nil
            control.notifyReloaded()
        }
    }

    /// The drained slots are retired, their committed offsets saved (the new definitions start
    /// from them), and the new pipelines' sources opened and posted to every worker.
    func install(shared: NodeShared, control: ControlPlane) {
        guard var reload = pipelineReload else { return }
        shared.pluginRows = reload.rows
        for slot in reload.stops { shared.setSlotState(slot, round: reload.round, .retired) }
        if reload.stops.contains(where: { slot in offsets.entries.contains { $0.pipeline == slot } }) {
            offsets.persist()
            for slot in reload.stops { offsets.remove(pipeline: slot) }
        }
        for slot in reload.stops { retiredSlots.insert(slot) }
        var starts = reload.starts
        var failed: Set<Int> = []
        /// Slots whose new definition could not start and that run their previous one again.
        var previousKept: Set<Int> = []
        var assignments: [WorkerAssignment]
        do {
            assignments = try prepare(shared: shared, slots: starts)
        } catch {
            // One at a time, so one pipeline that cannot start does not keep the others from it;
            // a changed one that cannot start runs its previous definition again.
            Log.error("node", "reload: \(error.description); starting the pipelines one by one")
            // The failed preparation's offsets entries go too (its descriptors are closed).
            for start in starts { offsets.remove(pipeline: start.slot) }
            assignments = [WorkerAssignment](repeating: WorkerAssignment(), count: workerCount)
            var started: [(slot: Int, definition: PipelineDefinition)] = []
            for start in starts {
                var candidates = [start.definition]
                if start.slot < pipelines.count { candidates.append(pipelines[start.slot]) }
                var placed = false
                for (i, definition) in candidates.enumerated() where !placed {
                    // The previous definition counts in rows of its own plugin types.
                    if i > 0 && !shared.pluginRows.assign(slot: start.slot, definition) { continue }
                    do {
                        let one = try prepare(shared: shared, slots: [(start.slot, definition)])
                        for w in 0..<workerCount { assignments[w].merge(one[w]) }
                        started.append((start.slot, definition))
                        placed = true
                        if i > 0 {
                            Log.warn("node", "reload: pipeline \(definition.name) runs its previous definition")
                            previousKept.insert(start.slot)
                            start.definition.dispose()
                        }
                    } catch {
                        offsets.remove(pipeline: start.slot)
                        Log.error("node", "reload: \(error.description)\(i > 0 ? " (its previous definition)" : "")")
                    }
                }
                if !placed {
                    // Slots are filled in order: the slot gets an empty stand-in and stays retired.
                    Log.error("node", "reload: pipeline \(start.definition.name) is not running")
                    start.definition.dispose()
                    started.append((start.slot, .standIn(named: start.definition.name)))
                    failed.insert(start.slot)
                    reload.summary += "; not running: \(start.definition.name)"
                }
            }
            starts = started
        }
        for (slot, definition) in starts {
            if slot < pipelines.count {
                if !previousKept.contains(slot) { reload.replaced.append(pipelines[slot]) }
                pipelines[slot] = definition
            } else {
                pipelines.append(definition)
            }
            if failed.contains(slot) {
                shared.setSlotState(slot, round: reload.round, .retired)
                retiredSlots.insert(slot)
            } else {
                shared.setSlotState(slot, round: reload.round, .running)
                retiredSlots.remove(slot)
            }
        }
        // A removed pipeline's slot gets an empty stand-in, so the workers close its output and
        // free its finished sources like those of a replaced one; the slot stays retired.
        let removed = reload.stops.filter { slot in !starts.contains { $0.slot == slot } }
        reload.replaced += removed.map { pipelines[$0] }
        let standIns = removed.map { (slot: $0, definition: PipelineDefinition.standIn(named: pipelines[$0].name)) }
        let installs = starts + standIns
        let actionRows = Dictionary(uniqueKeysWithValues: installs.map { ($0.slot, shared.pluginRows.actionBase(slot: $0.slot)) })
        for w in 0..<workerCount {
            shared.mailboxes[w].post(.init(round: reload.round, slots: installs, assignment: assignments[w], actionRows: actionRows))
        }
        reload.stage = .installing
        reload.starts = starts
        pipelineReload = reload
        shared.announceReconfiguration()
    }
}

extension PipelineDefinition {
    /// What a retired slot holds: no inputs, no actions, devnull (its old output gets closed).
    static func standIn(named name: String) -> PipelineDefinition {
        PipelineDefinition(name: name, inputs: [], actions: [], output: .devnull(DevNullOutput()))
    }
}
