/// `stdin`: reads standard input to its end. No parameters.
public struct StdinInput: Sendable {
    public init() {}
    public static let parameters: [ParameterDoc] = []
}

extension StdinInput: InputPlugin {
    public static let name = "stdin"
    public static let summary = "read standard input to its end"
    static func make(_ arguments: PluginArguments) throws(PluginArgumentError) -> StdinInput {
        try arguments.checkKnown(parameters)
        return StdinInput()
    }
    public var definition: InputDefinition { .stdin(self) }

    func prepare(_ preparation: inout InputPreparation, into assignments: inout [WorkerAssignment]) throws(Node.SetupError) {
        try FileFamily.prepareStdin(&preparation, into: &assignments)
    }
}
