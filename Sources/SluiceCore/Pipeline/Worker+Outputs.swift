/// The worker's side of its outputs: the context each call gets, and completions handed back
/// to the output that started the operation.
extension Worker {
    @inline(__always) func outputContext(_ pipeline: Int, _ output: Int) -> OutputContext {
        OutputContext(worker: self, pipeline: pipeline, output: output)
    }

    func outputWriteCompleted(pipeline: Int, output: Int, result: Int32) {
        outputs[pipeline][output].writeCompleted(result: result, context: outputContext(pipeline, output))
    }

    func outputSyncCompleted(pipeline: Int, output: Int, result: Int32) {
        outputs[pipeline][output].syncCompleted(result: result, context: outputContext(pipeline, output))
    }

    func outputConnectCompleted(pipeline: Int, output: Int, result: Int32) {
        outputs[pipeline][output].connectCompleted(result: result, context: outputContext(pipeline, output))
    }

    func outputReceiveCompleted(pipeline: Int, output: Int, result: Int32) {
        outputs[pipeline][output].receiveCompleted(result: result, context: outputContext(pipeline, output))
    }

    /// A sink's eventfd read (nats: a hand-off was confirmed); a reload may have replaced the
    /// output since, which the tag tells.
    func outputNotifyCompleted(pipeline: Int, output: Int, tag: Int) {
        guard pipeline < pipelineCount, output < outputCounts[pipeline] else { return }
        outputs[pipeline][output].notifyCompleted(tag: tag, context: outputContext(pipeline, output))
    }

    func deadLetterWriteCompleted(pipeline: Int, output: Int, result: Int32) {
        outputs[pipeline][output].deadLetterWriteCompleted(result: result, context: outputContext(pipeline, output))
    }
}
