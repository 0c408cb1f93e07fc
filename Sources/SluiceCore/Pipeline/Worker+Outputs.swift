import CSupport

/// The worker's side of its outputs: the context each call gets, and completions handed back
/// to the output that started the operation. An output with a disk buffer has two batchers:
/// its own (stage 1, writing the buffer) and its drain (stage 2, its real sink); the drain's
/// completions carry `OutputContext.drainFlag` in the output number.
extension Worker {
    @inline(__always) func outputContext(_ pipeline: Int, _ output: Int) -> OutputContext {
        OutputContext(worker: self, pipeline: pipeline, output: output)
    }

    /// The batcher a completion of output number `output` belongs to.
    @inline(__always) func batcher(_ pipeline: Int, _ output: Int) -> UnsafeMutablePointer<OutputBatcher> {
        guard output & OutputContext.drainFlag != 0 else { return outputs[pipeline] + output }
        guard let buffer = outputs[pipeline][output & ~OutputContext.drainFlag].diskBuffer else {
            preconditionFailure("a drain completion for an output without a disk buffer")
        }
        return buffer.pointee.drain
    }

    /// The lane a completion of a sink with two connections came from (the batcher passes it
    /// back to that lane's sink; its own operations use lane 0), and the output number
    /// without it.
    @inline(__always) func lane(_ output: Int) -> (lane: Int, output: Int) {
        (output & OutputContext.laneFlag == 0 ? 0 : 1, output & ~OutputContext.laneFlag)
    }

    func outputWriteCompleted(pipeline: Int, output: Int, result: Int32) {
        let (l, o) = lane(output)
        batcher(pipeline, o).pointee.writeCompleted(result: result, lane: l, context: outputContext(pipeline, o))
    }

    func outputSyncCompleted(pipeline: Int, output: Int, result: Int32) {
        batcher(pipeline, output).pointee.syncCompleted(result: result, context: outputContext(pipeline, output))
    }

    func outputConnectCompleted(pipeline: Int, output: Int, result: Int32) {
        let (l, o) = lane(output)
        batcher(pipeline, o).pointee.connectCompleted(result: result, lane: l, context: outputContext(pipeline, o))
    }

    func outputReceiveCompleted(pipeline: Int, output: Int, result: Int32) {
        let (l, o) = lane(output)
        batcher(pipeline, o).pointee.receiveCompleted(result: result, lane: l, context: outputContext(pipeline, o))
    }

    /// A sink's eventfd read (nats: a hand-off was confirmed); a reload may have replaced the
    /// output since, which the tag tells.
    func outputNotifyCompleted(pipeline: Int, output: Int, tag: Int) {
        guard pipeline < pipelineCount, output < outputCounts[pipeline] else { return }
        outputs[pipeline][output].notifyCompleted(tag: tag, context: outputContext(pipeline, output))
    }

    func deadLetterWriteCompleted(pipeline: Int, output: Int, result: Int32) {
        batcher(pipeline, output).pointee.deadLetterWriteCompleted(result: result, context: outputContext(pipeline, output))
    }

    /// A disk buffer's own file operation: `word` is the output and the operation (bits 8...).
    func bufferFileCompleted(pipeline: Int, word: Int, result: Int32) {
        guard let operation = DiskBufferOperation(rawValue: word >> 8) else { preconditionFailure("unknown disk buffer operation \(word >> 8)") }
        let output = word & 0xFF
        outputs[pipeline][output].diskBufferCompleted(operation, result: result, context: outputContext(pipeline, output))
    }

    /// What each disk buffer of `slot` does now: run, or stop (the node stops or a reload stops
    /// the pipeline) leaving undelivered records for the next start, or, when the inputs
    /// finished by themselves, deliver them all first.
    func setBufferModes(slot: Int) {
        let mode: DiskBuffer.Mode
        if pipelineStopping(slot) {
            mode = .halting
        } else if stopping {
            mode = sl_load_acquire(shared.emptyBuffersWord) != 0 ? .emptying : .halting
        } else {
            mode = .running
        }
        for o in 0..<outputCounts[slot] {
            if let d = outputs[slot][o].diskBuffer { d.pointee.mode = mode }
        }
    }
}
