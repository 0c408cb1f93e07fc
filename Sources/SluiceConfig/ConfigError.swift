/// A configuration mistake, told with where it is: a file position, or the CLI spec it came from.
public struct ConfigError: Error, Sendable, Equatable, CustomStringConvertible {
    /// What is wrong and, where possible, how to fix it; without the location prefix.
    public var message: String
    public var location: SourceLocation?
    /// The CLI plugin spec the error is in, when it came from one.
    public var spec: String?

    public init(_ message: String, location: SourceLocation? = nil, spec: String? = nil) {
        self.message = message
        self.location = location
        self.spec = spec
    }

    /// `file:line:column: message`, `spec 'X': message`, or the bare message.
    public var description: String {
        if let location {
            return "\(location): \(message)"
        }
        if let spec {
            return "spec '\(spec)': \(message)"
        }
        return message
    }
}
