import CSupport
import Glibc

/// Reload: a worker's side of restarting some pipelines while the others run on.
/// The control thread sets a slot to `stopping`; every worker stops that pipeline's inputs
/// (files dropped at their committed record, listeners closed, open connections read until
/// quiet, generators ended) and acknowledges `quiet`. Once the node holds no event of the
/// pipeline, slots with aggregates go to `finalizing` (final rows emitted, `final`), then the
/// slot is `retired` and the control thread posts the new definitions and sources, which each
/// worker installs when the slot's old output has nothing in flight.
extension Worker {
    func reconfigure() {
        let word = sl_load_acquire(shared.reconfigWord)
        if word != seenReconfig {
            seenReconfig = word
            if let delivery = shared.mailboxes[index].take() { pendingDelivery = delivery }
        }
        if let delivery = pendingDelivery, canInstall(delivery) {
            pendingDelivery = nil
            install(delivery)
        }
        var transitioning = false
        for slot in 0..<pipelineCount {
            let (round, phase) = shared.slotState(slot)
            if phase == .running { continue }
            if slotProgress[slot].phase == .running || slotProgress[slot].round != round {
                slotProgress[slot] = SlotProgress(phase: .stopping, round: round, stopNanos: now)
                stopInputs(pipeline: slot)
            }
            switch phase {
            case .running: break
            case .stopping:
                transitioning = true
                if inputsQuiet(pipeline: slot) && buffersQuiet(slot) { acknowledge(slot, round: round, .quiet) }
            case .finalizing:
                transitioning = true
                if slotProgress[slot].phase != .finalizing {
                    slotProgress[slot].phase = .finalizing
                    slotProgress[slot].toldEmpty = false
                }
                if aggregatesFinal(pipeline: slot) { acknowledge(slot, round: round, .final) }
            case .retired:
                slotProgress[slot].phase = .retired
            }
        }
        reconfiguring = transitioning
    }

    /// Acknowledges a step of the reload, and wakes the control thread when that is news: this
    /// worker's acknowledgement, or the pipeline holding no event any more once every worker has
    /// acknowledged (creations are final then, so the count only falls). Without the wake-up
    /// the control thread would see it at its next turn (`Node.controlTurnMillis`).
    func acknowledge(_ slot: Int, round: UInt64, _ ack: PipelineSlots.Ack) {
        let value = round << 2 | ack.rawValue
        var news = false
        if shared.slotAck(worker: index, slot: slot) != value {
            shared.acknowledge(worker: index, slot: slot, round: round, ack)
            news = true
        }
        if !slotProgress[slot].toldEmpty && (0..<workerCount).allSatisfy({ shared.slotAck(worker: $0, slot: slot) == value })
            && shared.eventsInFlight(slot: slot) == 0 {
            slotProgress[slot].toldEmpty = true
            news = true
        }
        if news { shared.wakeControl() }
    }

    /// The slot's disk buffers have stopped reading, given back what their drains had not sent
    /// and saved their position: the next definition's start may open their directories.
    func buffersQuiet(_ slot: Int) -> Bool {
        for o in 0..<outputCounts[slot] {
            if outputs[slot][o].diskBuffer != nil && !outputs[slot][o].isIdle { return false }
        }
        return true
    }

    /// A connection of a pipeline being stopped is closed once quiet, like at node shutdown.
    @inline(__always) func pipelineStopping(_ slot: Int) -> Bool { slotProgress[slot].phase != .running }

    func aggregatesFinal(pipeline slot: Int) -> Bool {
        for (p, a) in aggregators where p == slot {
            if case .aggregate(let action) = actionTable[p][a].kind, let state = action.state, !state.pointee.finalEmitted { return false }
        }
        return true
    }

    /// An output is replaced only when it has nothing in flight (no write, connect or wait for
    /// the peer's acknowledgement whose completion would reach the new one; a batch waiting for
    /// the peer keeps the output from being idle).
    func canInstall(_ delivery: PipelineMailbox.Delivery) -> Bool {
        for (slot, _) in delivery.slots where slot < pipelineCount {
            if !outputsIdle(slot) { return false }
            for o in 0..<outputCounts[slot] where outputs[slot][o].isConnecting { return false }
        }
        return true
    }

    func install(_ delivery: PipelineMailbox.Delivery) {
        for (slot, definition) in delivery.slots.sorted(by: { $0.slot < $1.slot }) {
            precondition(slot <= pipelineCount && slot < shared.slotCapacity, "pipeline slots are filled in order")
            if slot < pipelineCount {
                disposeOutputs(of: slot)
                // This worker's copies own what `forWorker()` allocated; the definitions' shared
                // memory is the node's to free once every worker installed.
                for a in 0..<actionCounts[slot] { actionTable[slot][a].dispose() }
                actionTable[slot].deinitialize(count: actionCounts[slot])
                actionTable[slot].deallocate()
                retireInputs(pipeline: slot)
            }
            setUpSlot(slot, definition, assignment: delivery.assignment, actionRowBase: delivery.actionRows[slot] ?? 0)
            if slot == pipelineCount {
                pipelineCount += 1
                pipelineNames.append(definition.name)
            } else {
                pipelineNames[slot] = definition.name
            }
            slotProgress[slot].phase = .running
        }
        var assignment = delivery.assignment
        if stopping {
            // The node began to stop meanwhile: the new sources are not started.
            assignment.outputFDs = [:]
            assignment.deadLetterFDs = [:]
            assignment.closeAll()
        } else {
            installInputs(assignment)
        }
        publish(.inputsFinished, inputsFinished())
        sl_store_release(shared.word(index, .installed), delivery.round)
        shared.wakeControl()
    }
}
