import Testing

/// Runs the built `sluice` binary as a user would: real processes, files, sockets and signals.
/// Serialized (recursively, so every nested suite too) because each run is heavy and several
/// use a fixed port or the whole machine's CPUs.
@Suite(.serialized, .timeLimit(.minutes(3)))
enum EndToEndTests {}
