/// What an input plugin declares, in its folder (`Plugins/Inputs/<name>/`): its name, summary
/// and parameters, how it is built from its spec, and how the control thread opens it and puts
/// its sources into the workers' assignments, through the family that reads them (a family is
/// the worker side: `InputFamilies`; inputs such as syslog or k8s reuse the tcp, datagram or file
/// family with a record decoder of their own). The registry lists the type once and wraps it in
/// one `InputDefinition` case.
protocol InputPlugin: Sendable {
    static var name: String { get }
    static var summary: String { get }
    static var parameters: [ParameterDoc] { get }
    static func make(_ arguments: PluginArguments) throws(PluginArgumentError) -> Self
    /// Its own counters (`Counter`), in /metrics and the exit summary.
    static var counters: [CounterSpec] { get }

    /// This value in its registry case.
    var definition: InputDefinition { get }
    /// What makes this input unusable with the node's settings (checked before anything opens).
    func problem(with settings: NodeSettings) -> String?
    /// On the control thread: opens what this input needs and puts its sources into the
    /// workers' assignments.
    func prepare(_ preparation: inout InputPreparation, into assignments: inout [WorkerAssignment]) throws(Node.SetupError)
}

extension InputPlugin {
    static var counters: [CounterSpec] { [] }
    func problem(with settings: NodeSettings) -> String? { nil }
}

/// An operation on whichever plugin an `InputDefinition` holds (`InputDefinition.open`).
protocol InputVisitor {
    associatedtype Result
    mutating func visit<I: InputPlugin>(_ input: I) -> Result
}

extension InputDefinition {
    /// The plugin's registered name (as in `InputDefinition.types`).
    var typeName: String {
        struct Visitor: InputVisitor { func visit<I: InputPlugin>(_ input: I) -> String { I.name } }
        var v = Visitor()
        return open(&v)
    }

    /// What makes this input unusable with the node's settings (checked before anything opens).
    func problem(with settings: NodeSettings) -> String? {
        struct Visitor: InputVisitor {
            let settings: NodeSettings
            func visit<I: InputPlugin>(_ input: I) -> String? { input.problem(with: settings) }
        }
        var v = Visitor(settings: settings)
        return open(&v)
    }

    /// On the control thread: opens what this input needs and puts its sources into the
    /// workers' assignments (its family's `prepare`).
    func prepare(_ preparation: inout InputPreparation, into assignments: inout [WorkerAssignment]) throws(Node.SetupError) {
        struct Visitor: InputVisitor {
            let preparation: UnsafeMutablePointer<InputPreparation>
            let assignments: UnsafeMutablePointer<[WorkerAssignment]>
            func visit<I: InputPlugin>(_ input: I) -> Node.SetupError? {
                do throws(Node.SetupError) { try input.prepare(&preparation.pointee, into: &assignments.pointee) } catch { return error }
                return nil
            }
        }
        let failure = withUnsafeMutablePointer(to: &preparation) { p in
            withUnsafeMutablePointer(to: &assignments) { a in
                var v = Visitor(preparation: p, assignments: a)
                return open(&v)
            }
        }
        if let failure { throw failure }
    }
}
