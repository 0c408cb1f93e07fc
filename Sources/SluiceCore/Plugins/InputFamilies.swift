import Glibc

/// The registry of input source families, the worker side of `InputDefinition`: each family
/// (one per input plugin that reads, `Plugins/Inputs/<name>/`) is one stored property, its
/// line in `init` and one `visit` line, and its share of a worker's assignment in
/// `InputAssignments`. Everything else (service order, completion routing, install, stop)
/// follows from `visit`, so adding a family touches only its folder and these lines.
///
/// Each family is a concrete stored property and `visit` is generic over it, so every call the
/// worker makes into a family is static: no existential on the event path.
final class InputFamilies {
    let file: FileFamily
    let tcp: TCPFamily
    let http: HTTPFamily
    let generator: GeneratorFamily
    let journald: JournaldFamily
    let datagram: DatagramFamily
    let nats: NATSFamily

    init(worker: Int, settings: NodeSettings, assignment: InputAssignments) {
        file = FileFamily(worker: worker, settings: settings, assignment: assignment.file)
        tcp = TCPFamily(worker: worker, settings: settings, assignment: assignment.tcp)
        http = HTTPFamily(worker: worker, settings: settings, assignment: assignment.http)
        generator = GeneratorFamily(worker: worker, settings: settings, assignment: assignment.generator)
        journald = JournaldFamily(worker: worker, settings: settings, assignment: assignment.journald)
        datagram = DatagramFamily(worker: worker, settings: settings, assignment: assignment.datagram)
        nats = NATSFamily(worker: worker, settings: settings, assignment: assignment.nats)
    }

    /// The one list of families, in service order.
    @inline(__always) func visit<V: SourceFamilyVisitor>(_ visitor: inout V) {
        visitor.visit(file, \.file)
        visitor.visit(tcp, \.tcp)
        visitor.visit(http, \.http)
        visitor.visit(generator, \.generator)
        visitor.visit(journald, \.journald)
        visitor.visit(datagram, \.datagram)
        visitor.visit(nats, \.nats)
    }

    /// An acknowledged event back at the worker that read it: to the family that made it.
    @inline(__always) func acknowledged(sourceID: UInt32, offset: UInt64) {
        var visitor = Acknowledged(kind: SourceIDs.kind(sourceID), sourceID: sourceID, offset: offset)
        visit(&visitor)
    }
}

extension InputFamilies {
    /// The stable identity of the source that made `event` (a source of this worker), if its
    /// family has one (`SourceFamily.identity`).
    @inline(__always) func identity(of event: Event) -> UInt64? {
        var visitor = Identity(kind: SourceIDs.kind(event.header.pointee.sourceID), event: event)
        visit(&visitor)
        return visitor.identity
    }
}

private struct Identity: SourceFamilyVisitor {
    let kind: UInt32
    let event: Event
    var identity: UInt64?

    @inline(__always) mutating func visit<Family: SourceFamily>(_ family: Family, _ share: KeyPath<InputAssignments, Family.Assignment>) {
        if kind == Family.kind.rawValue { identity = family.identity(of: event) }
    }
}

/// Routes one acknowledged event by the family kind in its source ID (a compare per family,
/// all static).
private struct Acknowledged: SourceFamilyVisitor {
    let kind: UInt32
    let sourceID: UInt32
    let offset: UInt64

    @inline(__always) mutating func visit<Family: SourceFamily>(_ family: Family, _ share: KeyPath<InputAssignments, Family.Assignment>) {
        if kind == Family.kind.rawValue { family.acknowledged(sourceID: sourceID, offset: offset) }
    }
}

extension SourceIDs {
    /// Which family made a source ID (and routes a completion): 1…15, one per family.
    public enum Kind: UInt32, Sendable { case file = 1, tcp = 2, generator = 3, journald = 4, datagram = 5, http = 6, nats = 7 }
}

/// Each family's share of one worker's `WorkerAssignment`.
struct InputAssignments {
    var file = FileFamily.Assignment()
    var tcp = TCPFamily.Assignment()
    var http = HTTPFamily.Assignment()
    var generator = GeneratorFamily.Assignment()
    var journald = JournaldFamily.Assignment()
    var datagram = DatagramFamily.Assignment()
    var nats = NATSFamily.Assignment()

    /// Adds another preparation's sources (a reload that prepared pipelines one by one).
    mutating func merge(_ other: InputAssignments) {
        file.merge(other.file)
        tcp.merge(other.tcp)
        http.merge(other.http)
        generator.merge(other.generator)
        journald.merge(other.journald)
        datagram.merge(other.datagram)
        nats.merge(other.nats)
    }

    /// Closes every descriptor in it (a preparation that failed or that a worker did not use).
    func closeAll() {
        file.closeAll()
        tcp.closeAll()
        http.closeAll()
        generator.closeAll()
        journald.closeAll()
        datagram.closeAll()
        nats.closeAll()
    }
}
