import Glibc

/// `file`: appends each event as one line to a file (created when missing, mode 0644); every
/// worker appends whole batches with O_APPEND. `format` and `dead-letter`: see `DeliveryOptions`.
public struct FileOutput: Sendable {
    static let path = Parameter.required("path", .path, doc: "file to append to")
    static let sync = Parameter.bool("sync", default: false, doc: "fsync each batch before acknowledging it")
    public static let parameters = [path.doc, sync.doc] + DeliveryOptions.parameters + BufferOptions.parameters
    public let path: String
    public let sync: Bool
    public let delivery: DeliveryOptions
    public let buffer: BufferOptions

    public init(_ arguments: PluginArguments) throws(PluginArgumentError) {
        try arguments.checkKnown(Self.parameters)
        path = try arguments.value(Self.path)
        sync = try arguments.value(Self.sync)
        delivery = try DeliveryOptions(arguments)
        buffer = try BufferOptions(arguments)
    }
}

extension FileOutput: OutputPlugin {
    public static let name = "file"
    public static let summary = "append one line per event to a file"
    static func make(_ arguments: PluginArguments) throws(PluginArgumentError) -> FileOutput { try FileOutput(arguments) }
    public var definition: OutputDefinition { .file(self) }

    func openDescriptor() throws(Node.SetupError) -> Int32 {
        let fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw Node.SetupError(description: "output file: \(SystemError.lastErrno("open \(path)"))") }
        return fd
    }

    func sink(fd: Int32, bufferBytes: Int, batchSize: Int) -> OutputSink {
        .file(FileSink(fd: fd, sync: sync))
    }
}
