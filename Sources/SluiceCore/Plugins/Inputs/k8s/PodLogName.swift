/// What the kubelet puts in a container log's name under `/var/log/containers`:
/// `<pod>_<namespace>_<container>-<container id: 64 hex digits>.log`. Pod names and namespaces
/// may hold dots and dashes, never `_`; the name is read from its right end: the id after the
/// last `-`, the container after the last `_`, the namespace after the one before it, the pod
/// the rest.
public struct PodLogName: Equatable, Sendable {
    public var pod: String
    public var namespace: String
    public var container: String
    public var containerID: String

    /// The parts of `path`'s file name, or nil when it is not named that way.
    public init?(path: String) {
        let name = path.split(separator: "/", omittingEmptySubsequences: false).last.map(String.init) ?? path
        guard name.hasSuffix(".log") else { return nil }
        let stem = name.dropLast(4)
        guard let dash = stem.lastIndex(of: "-") else { return nil }
        let id = stem[stem.index(after: dash)...]
        guard id.utf8.count == 64, id.utf8.allSatisfy({ ($0 >= 48 && $0 <= 57) || ($0 >= 97 && $0 <= 102) }) else { return nil }
        let names = stem[..<dash]
        guard let last = names.lastIndex(of: "_") else { return nil }
        let container = names[names.index(after: last)...]
        let podAndNamespace = names[..<last]
        guard let middle = podAndNamespace.lastIndex(of: "_") else { return nil }
        let namespace = podAndNamespace[podAndNamespace.index(after: middle)...]
        let pod = podAndNamespace[..<middle]
        guard !pod.isEmpty, !namespace.isEmpty, !container.isEmpty else { return nil }
        self.pod = String(pod)
        self.namespace = String(namespace)
        self.container = String(container)
        containerID = String(id)
    }

    /// The JSON members every event of the file carries: `,"namespace":…,"pod":…,"container":…,"container_id":…`.
    public var members: [UInt8] {
        Array(",\"namespace\":".utf8) + JSONText.quoted(namespace) + Array(",\"pod\":".utf8) + JSONText.quoted(pod)
            + Array(",\"container\":".utf8) + JSONText.quoted(container) + Array(",\"container_id\":".utf8) + JSONText.quoted(containerID)
    }
}
