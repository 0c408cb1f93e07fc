import Testing

@testable import SluiceCore

@Suite struct NUMATopologyTests {
    private let twoNodes = NUMATopology(isNUMA: true, nodeOfCPU: [0: 0, 1: 0, 2: 1, 3: 1])

    @Test func aWorkerPinnedToACPUGetsThatCPUsNode() {
        #expect(SlabPlacement.forWorker(cpu: 3, topology: twoNodes) == .node(1))
        #expect(SlabPlacement.forWorker(cpu: 2, topology: twoNodes) == .node(1))
        #expect(SlabPlacement.forWorker(cpu: 0, topology: twoNodes) == .node(0))
    }

    @Test func withoutNUMAEveryWorkerTakesAnyNode() {
        let flat = NUMATopology(isNUMA: false, nodeOfCPU: [0: 0, 1: 0, 2: 0, 3: 0])
        #expect(SlabPlacement.forWorker(cpu: 3, topology: flat) == .anyNode)
    }

    @Test func anUnpinnedWorkerTakesAnyNode() {
        #expect(SlabPlacement.forWorker(cpu: nil, topology: twoNodes) == .anyNode)
    }

    @Test func aCPUMissingFromTheMapIsOnNodeZero() {
        #expect(twoNodes.node(of: 17) == 0)
        #expect(SlabPlacement.forWorker(cpu: 17, topology: twoNodes) == .node(0))
    }

    @Test func detectionMapsEveryRequestedCPU() {
        let topology = NUMATopology.detect(cpus: [0, 1])
        #expect(Set(topology.nodeOfCPU.keys) == [0, 1])
        if !topology.isNUMA { #expect(topology.nodeOfCPU.values.allSatisfy { $0 == 0 }) }
    }
}
