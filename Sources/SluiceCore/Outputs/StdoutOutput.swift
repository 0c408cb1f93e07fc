/// `stdout`: writes each event as one line to standard output. No parameters.
public struct StdoutOutput: Sendable {
    public static let parameters: [ParameterDoc] = []
}
