/// The parameters every HTTP output takes besides its own: the answer's time limit, the
/// longest wait between retries, the bounds of what is read of an answer, and the
/// dead-letter file for events the server refuses.
enum HTTPOptions {
    static let timeout = Parameter.duration("timeout", default: "30s", atLeast: "10ms",
                                            doc: "a request with no complete answer by then is sent again on a new connection")
    static let retryMax = Parameter.duration("retry-max", default: "30s", atLeast: "10ms",
                                             doc: "longest wait between retries (429, 5xx, lost connections; Retry-After is honoured up to it)")
    static let headLimit = Parameter.size("response-head-limit", default: "16KiB", atLeast: "1KiB",
                                          doc: "longest status line and headers of an answer (longer: a protocol error, retried on a new connection)")
    static let bodyKept = Parameter.size("response-body-kept", default: "4KiB", atLeast: "0",
                                         doc: "bytes of an answer's body kept for logs and dead-letter reasons (the rest is read and dropped)")
    static let parameters = [timeout.doc, retryMax.doc, headLimit.doc, bodyKept.doc, DeliveryOptions.deadLetter.doc]

    /// Reads the shared parameters into `endpoint`; the dead-letter path into `delivery`.
    static func read(_ arguments: PluginArguments, into endpoint: inout HTTPEndpoint,
                     delivery: inout DeliveryOptions) throws(PluginArgumentError) {
        endpoint.timeoutMicros = try arguments.value(timeout)
        endpoint.retryMaxMicros = try arguments.value(retryMax)
        endpoint.headBytesLimit = try arguments.value(headLimit)
        endpoint.bodyKeptLimit = try arguments.value(bodyKept)
        delivery.deadLetterPath = try arguments.value(DeliveryOptions.deadLetter)
    }
}
