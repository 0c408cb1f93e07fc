/// `stdin`: reads standard input to its end. No parameters.
public struct StdinInput: Sendable {
    public static let parameters: [ParameterDoc] = []
}
