/// `devnull`: counts events and acknowledges them at once. No parameters.
public struct DevNullOutput: Sendable {
    public static let parameters: [ParameterDoc] = []
}
