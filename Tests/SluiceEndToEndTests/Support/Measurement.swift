import Testing

/// A figure a test measured (duplicates after kills, RSS during an outage, time to stop): printed
/// in the test log and attached to the test's results (`swift test --attachments-path DIR`).
func recordMeasurement(_ text: String, named name: String) {
    print("measured: \(name): \(text)")
    Attachment.record(text, named: "\(name).txt")
}
