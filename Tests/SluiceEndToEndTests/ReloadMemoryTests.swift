import Foundation
import Glibc
import Testing

extension EndToEndTests {
    /// Reloads give back what the replaced pipeline's actions held.
    @Suite struct ReloadMemory {
        /// 200 reloads of a pipeline with discard, modify and aggregate leave resident memory
        /// flat. Before per-worker action state was freed at retire, each reload kept every
        /// worker's aggregate table (2,048 groups, written when made) among other things:
        /// measured on the unchanged code with this very test, VmRSS grew by 61,060 KiB from
        /// reload 20 to reload 200 (~339 KiB a reload, two workers); with it freed, by 96 KiB.
        /// The bound, 8 MiB, is an eighth of the old growth and leaves room for allocator noise
        /// (the malloc arenas of the workers and the control thread settling).
        @Test func twoHundredReloadsOfAChangedPipelineLeaveResidentMemoryFlat() throws {
            let directory = try TemporaryDirectory()
            let adminPort = try LoopbackTCP.freePort()
            let config = directory.path("sluice.yaml")
            func writeConfig(_ round: Int) throws {
                try """
                settings:
                  admin: 127.0.0.1:\(adminPort)
                pipelines:
                  main:
                    input: {type: generator, rate: 500}
                    actions:
                      - {type: json_decode}
                      - {type: discard, field: type, equals: view}
                      - {type: modify, field: env, value: "round-\(round % 2)"}
                      - {type: aggregate, key: type, value: value}
                    output: {type: file, path: \(directory.path("out.ndjson"))}

                """.write(toFile: config, atomically: true, encoding: .utf8)
            }
            try writeConfig(0)
            let (sluice, notifications) = try AdminHTTP.startNotifiedNode(config: config, in: directory, adminPort: adminPort)
            let pid = try ProcessStatus.processID(of: sluice)
            var residentAfter20 = 0
            for round in 1...200 {
                try writeConfig(round)
                sluice.send(signal: SIGHUP)
                // RELOADING=1, then READY=1 once every worker installed (the log line "reload
                // done" is rate limited at 20 lines a second, the notifications are not).
                _ = try notifications.receive(until: { $0.contains("READY=1") }, within: .seconds(10))
                if round == 20 { residentAfter20 = try ProcessStatus.residentBytes(of: pid) }
            }
            let residentAfter200 = try ProcessStatus.residentBytes(of: pid)
            let growth = residentAfter200 - residentAfter20
            #expect(growth < 8 << 20, "VmRSS grew by \(growth >> 10) KiB from reload 20 (\(residentAfter20 >> 10) KiB) to reload 200")
            print("reload memory: VmRSS after reload 20: \(residentAfter20 >> 10) KiB, after 200: \(residentAfter200 >> 10) KiB, growth \(growth >> 10) KiB")
            #expect(sluice.standardError().contains("restarted: main"))
            try AdminHTTP.stop(sluice)
        }
    }
}
