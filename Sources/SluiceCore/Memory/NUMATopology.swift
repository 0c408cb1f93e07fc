import CSupport

/// Which NUMA node each CPU sits on; injected in tests, read from libnuma in production.
public struct NUMATopology: Sendable, Equatable {
    /// Whether node-local allocation is worth asking for (more than one node, libnuma present).
    public var isNUMA: Bool
    public var nodeOfCPU: [Int: Int]

    public init(isNUMA: Bool, nodeOfCPU: [Int: Int]) {
        self.isNUMA = isNUMA
        self.nodeOfCPU = nodeOfCPU
    }

    /// The machine's topology for `cpus` as libnuma reports it.
    public static func detect(cpus: [Int]) -> NUMATopology {
        let available = sl_numa_available() == 1 && sl_numa_max_node() > 0
        var map: [Int: Int] = [:]
        for cpu in cpus { map[cpu] = available ? Int(sl_numa_node_of_cpu(Int32(cpu))) : 0 }
        return NUMATopology(isNUMA: available, nodeOfCPU: map)
    }

    public func node(of cpu: Int) -> Int { nodeOfCPU[cpu] ?? 0 }
}

/// How one slab of memory is obtained: from libnuma on a node, or a plain mapping.
public enum SlabPlacement: Equatable, Sendable {
    case node(Int)
    case anyNode

    /// The placement of the slab of a worker pinned to `cpu` (nil cpu: unpinned).
    public static func forWorker(cpu: Int?, topology: NUMATopology) -> SlabPlacement {
        guard topology.isNUMA, let cpu else { return .anyNode }
        return .node(topology.node(of: cpu))
    }
}

/// Allocates and frees slab memory according to its placement.
enum SlabMemory {
    static func allocate(bytes: Int, placement: SlabPlacement, hugePages: Bool) -> UnsafeMutableRawPointer? {
        switch placement {
        case .node(let node):
            if let memory = sl_numa_alloc_onnode(bytes, Int32(node)) { return memory }
            return sl_map_anonymous(bytes, hugePages ? 1 : 0)
        case .anyNode:
            return sl_map_anonymous(bytes, hugePages ? 1 : 0)
        }
    }

    static func free(_ memory: UnsafeMutableRawPointer, bytes: Int, placement: SlabPlacement) {
        switch placement {
        case .node: sl_numa_free(memory, bytes)
        case .anyNode: sl_unmap(memory, bytes)
        }
    }
}
