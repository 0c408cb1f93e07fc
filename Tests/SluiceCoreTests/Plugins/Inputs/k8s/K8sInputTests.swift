import Foundation
import Testing

@testable import SluiceCore

private func k8sInput(_ pairs: (String, String)...) throws(PluginArgumentError) -> K8sInput {
    try K8sInput(PluginArguments(plugin: "k8s", pairs: pairs.map { (key: $0.0, value: $0.1) }))
}

private let containerID = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
private let logPath = "/var/log/containers/web-7d9f8b-x2v.canary_shop-prod_nginx-proxy-\(containerID).log"

/// A container log file framed by a `LineFramer` with the container log decoder, as the file
/// family reads one: the events as JSON objects, and their offsets.
private final class ContainerLogFraming {
    let framing: Framing
    let scratch: UnsafeMutableRawPointer

    init(pool: EventPool, path: String = logPath) {
        framing = Framing(pool: pool)
        let maxEventBytes = pool.configuration.maxEventSizeBytes
        scratch = .allocate(byteCount: maxEventBytes, alignment: 64)
        framing.framer.decoder = RecordDecoder.forSource(.containerLog, path: path, startOffset: 0, maxEventBytes: maxEventBytes, scratch: scratch)
    }

    deinit {
        framing.framer.decoder.dispose()
        scratch.deallocate()
    }

    var records: [FramedRecord] { framing.records }
    var texts: [String] { framing.records.map { String(decoding: $0.bytes, as: UTF8.self) } }
    var logs: [String] { objects.map { $0["log"] as? String ?? "<none>" } }
    var offsets: [UInt64] { framing.records.map(\.offset) }
    var objects: [[String: Any]] {
        framing.records.map { (try? JSONSerialization.jsonObject(with: Data($0.bytes))) as? [String: Any] ?? ["invalid": String(decoding: $0.bytes, as: UTF8.self)] }
    }
    func count(_ counter: Counter) -> UInt64 { framing.count(counter) }
}

private func bytes(_ lines: [String]) -> [UInt8] { Array(lines.map { $0 + "\n" }.joined().utf8) }

/// The end offset of each line.
private func ends(_ lines: [String]) -> [UInt64] {
    var end: UInt64 = 0
    return lines.map { end += UInt64($0.utf8.count + 1); return end }
}

@Suite struct K8sInputTests {
    // MARK: - Parameters

    @Test func defaultsFollowTheKubeletsContainerLogs() throws {
        let input = try k8sInput()
        #expect(input.file.patterns == ["/var/log/containers/*.log"])
        #expect(input.file.follow && input.file.maxRotated == 5 && input.file.offsetsPath == nil)
        #expect(input.file.decoding == .containerLog && input.file.pluginName == "k8s")
        let other = try k8sInput(("path", "/tmp/logs/*.log"), ("follow", "false"), ("offsets", "/tmp/o"), ("max-rotated", "2"))
        #expect(other.file.patterns == ["/tmp/logs/*.log"] && !other.file.follow && other.file.offsetsPath == "/tmp/o" && other.file.maxRotated == 2)
    }

    @Test func keysOfTheFileInputItDoesNotTakeAreRejected() {
        #expect(rejection { () throws(PluginArgumentError) in try k8sInput(("parallel", "true")) }?.key == "parallel")
        #expect(rejection { () throws(PluginArgumentError) in try k8sInput(("max-rotated", "100")) }?.key == "max-rotated")
    }

    // MARK: - Names

    @Test func theMetadataAreReadFromTheRightOfTrickyNames() throws {
        let name = try #require(PodLogName(path: logPath))
        #expect(name.pod == "web-7d9f8b-x2v.canary" && name.namespace == "shop-prod" && name.container == "nginx-proxy" && name.containerID == containerID)
        let dotted = try #require(PodLogName(path: "a.b-c_kube-system_x-\(containerID).log"))
        #expect(dotted.pod == "a.b-c" && dotted.namespace == "kube-system" && dotted.container == "x")
        // Not the kubelet's names: the id is not 64 lower-case hex digits, parts are missing.
        for bad in ["p_n_c-\(containerID.dropLast()).log", "p_n_c-\(containerID.uppercased()).log", "p_n_c-\(containerID).txt",
                    "n_c-\(containerID).log", "_n_c-\(containerID).log", "p_n_-\(containerID).log", "app.log", "p_n_c\(containerID).log"] {
            #expect(PodLogName(path: "/var/log/containers/" + bad) == nil, "\(bad)")
        }
        let members = String(decoding: try #require(PodLogName(path: logPath)).members, as: UTF8.self)
        #expect(members == #","namespace":"shop-prod","pod":"web-7d9f8b-x2v.canary","container":"nginx-proxy","container_id":""# + containerID + "\"")
    }

    @Test func everyEventCarriesTheMetadataOfItsFile() throws {
        let k = ContainerLogFraming(pool: try makePool())
        k.framing.feed(bytes(["2024-05-01T10:00:00Z stdout F hi"]), splitAt: [])
        k.framing.drain()
        #expect(k.texts == [#"{"time":"2024-05-01T10:00:00Z","stream":"stdout","log":"hi","namespace":"shop-prod","pod":"web-7d9f8b-x2v.canary","container":"nginx-proxy","container_id":""#
                + containerID + "\"}"])
        let unnamed = ContainerLogFraming(pool: try makePool(), path: "/tmp/app.log")
        unnamed.framing.feed(bytes(["2024-05-01T10:00:00Z stdout F hi"]), splitAt: [])
        unnamed.framing.drain()
        #expect(unnamed.texts == [#"{"time":"2024-05-01T10:00:00Z","stream":"stdout","log":"hi"}"#])
    }

    // MARK: - Joining

    static let cri = [
        "2024-05-01T10:00:00.000000001Z stdout F one",
        "2024-05-01T10:00:01Z stdout P two: first, ",
        "2024-05-01T10:00:01Z stdout P second, ",
        "2024-05-01T10:00:02Z stdout F third",
        "2024-05-01T10:00:03Z stderr F an \"error\"\twith\\escapes",
        "2024-05-01T10:00:04Z stdout F ",
    ]

    @Test func partialCRILinesAreJoinedIntoTheEventOfTheirLastLineAtEverySplit() throws {
        let pool = try makePool()
        let input = bytes(Self.cri)
        let e = ends(Self.cri)
        for split in 0...input.count {
            let k = ContainerLogFraming(pool: pool)
            k.framing.feed(input, splitAt: [split])
            k.framing.drain()
            #expect(k.logs == ["one", "two: first, second, third", "an \"error\"\twith\\escapes", ""], "split \(split)")
            #expect(k.objects.map { $0["time"] as? String } == ["2024-05-01T10:00:00.000000001Z", "2024-05-01T10:00:01Z", "2024-05-01T10:00:03Z", "2024-05-01T10:00:04Z"])
            #expect(k.objects.map { $0["stream"] as? String } == ["stdout", "stdout", "stderr", "stdout"])
            #expect(k.offsets == [e[0], e[3], e[4], e[5]], "split \(split)")
            #expect(k.count(.partialLinesJoined) == 2 && k.count(.eventsIn) == 4)
            #expect(k.count(.bytesIn) == UInt64(input.count - Self.cri.count), "every line's bytes, joined or not")
            #expect(k.framing.slabIsWhole, "split \(split)")
        }
    }

    @Test func partialDockerLinesAreJoinedAndStayValidJSONAtEverySplit() throws {
        let lines = [
            #"{"log":"one\n","stream":"stdout","time":"2024-05-01T10:00:00Z"}"#,
            #"{"log":"two \"quoted\" \u00e9 ","stream":"stdout","time":"2024-05-01T10:00:01Z"}"#,
            #"{"log":"and a tab\t","stream":"stdout","time":"2024-05-01T10:00:02Z"}"#,
            #"{"log":"end\\\n","stream":"stdout","time":"2024-05-01T10:00:03Z"}"#,
        ]
        let pool = try makePool()
        let input = bytes(lines)
        for split in stride(from: 0, through: input.count, by: 3) {
            let k = ContainerLogFraming(pool: pool)
            k.framing.feed(input, splitAt: [split])
            k.framing.drain()
            #expect(k.logs == ["one", "two \"quoted\" é and a tab\tend\\"], "split \(split)")
            #expect(k.objects.last?["time"] as? String == "2024-05-01T10:00:01Z")
            #expect(k.offsets == [ends(lines)[0], ends(lines)[3]])
            #expect(k.framing.slabIsWhole)
        }
    }

    /// stdout's record is pending while stderr writes a whole line: that line's event must not
    /// commit past stdout's first partial line, or a crash would lose its start.
    @Test func anEventOfTheOtherStreamCommitsNoFurtherThanAPendingRecordsFirstLine() throws {
        let lines = [
            "2024-05-01T10:00:00Z stdout F before",
            "2024-05-01T10:00:01Z stdout P long ",
            "2024-05-01T10:00:02Z stderr F meanwhile",
            "2024-05-01T10:00:03Z stderr P err ",
            "2024-05-01T10:00:04Z stdout F line",
            "2024-05-01T10:00:05Z stderr F end",
        ]
        let k = ContainerLogFraming(pool: try makePool())
        k.framing.feed(bytes(lines), splitAt: [])
        k.framing.drain()
        let e = ends(lines)
        #expect(k.logs == ["before", "meanwhile", "long line", "err end"])
        #expect(k.offsets == [e[0], e[0], e[2], e[5]])
        #expect(k.offsets == k.offsets.sorted(), "commits never go back")
    }

    @Test func aCharacterSplitBetweenPartialLinesIsJoinedWhole() throws {
        let euro = Array("€".utf8)
        var input: [UInt8] = Array("2024 stdout P a".utf8)
        input += euro[0..<1]
        input += [10]
        input += Array("2024 stdout F ".utf8)
        input += euro[1...]
        input += Array("b\n".utf8)
        let k = ContainerLogFraming(pool: try makePool())
        k.framing.feed(input, splitAt: [])
        k.framing.drain()
        #expect(k.logs == ["a€b"])
    }

    @Test func aMalformedLineIsKeptWholeAndCountedWhileARecordIsPending() throws {
        let lines = ["2024 stdout P start ", "not a container log line", "{\"log\":", "2024 stdout F end"]
        let k = ContainerLogFraming(pool: try makePool())
        k.framing.feed(bytes(lines), splitAt: [])
        k.framing.drain()
        #expect(k.logs == ["not a container log line", "{\"log\":", "start end"])
        #expect(k.objects.map { $0["parse_error"] as? String } == ["not a CRI log line (TIME STREAM TAGS LOG)", "not valid JSON", nil])
        #expect(k.objects.allSatisfy { $0["pod"] as? String == "web-7d9f8b-x2v.canary" })
        #expect(k.offsets == [0, 0, ends(lines)[3]], "the pending record's first line starts the file")
        #expect(k.count(.containerLogParseErrors) == 2)

        // A malformed line before the record: the record starts after it (found by the fuzzer:
        // the start stayed at 0 and the next events committed behind the malformed line's end).
        let after = ["garbage", "2024 stdout P start ", "2024 stderr F other", "2024 stdout F end"]
        let m = ContainerLogFraming(pool: try makePool())
        m.framing.feed(bytes(after), splitAt: [])
        m.framing.drain()
        #expect(m.offsets == [ends(after)[0], ends(after)[0], ends(after)[3]])
    }

    // MARK: - Limits

    @Test func aJoinedRecordLargerThanMaxEventSizeIsCutFlaggedCountedAndValid() throws {
        let pool = try makePool(maxEventSizeBytes: 4096)
        let chunk = String(repeating: "é\"x", count: 300)  // 1200 bytes, 1500 escaped
        let cri = Array(repeating: "2024 stdout P \(chunk)", count: 5) + ["2024 stdout F tail", "2024 stdout F next"]
        let escaped = String(repeating: #"é\"\u00e9"#, count: 150)
        let docker = Array(repeating: #"{"log":""# + escaped + #"","stream":"stdout","time":"t"}"#, count: 5)
            + [#"{"log":"tail\n","stream":"stdout","time":"t"}"#, #"{"log":"next\n","stream":"stdout","time":"t"}"#]
        for lines in [cri, docker] {
            let k = ContainerLogFraming(pool: pool)
            k.framing.feed(bytes(lines), splitAt: [])
            k.framing.drain()
            #expect(k.records.count == 2)
            #expect(k.records.allSatisfy { $0.bytes.count <= 4096 })
            #expect(k.objects[0]["cut"] as? Bool == true && k.objects[0]["invalid"] == nil, "\(k.texts[0].suffix(100))")
            #expect(k.records[0].flags.contains(.cut))
            #expect(k.objects[1]["log"] as? String == "next" && k.objects[1]["cut"] == nil)
            #expect(k.count(.cutRecords) == 1)
            #expect(k.offsets == [ends(lines)[5], ends(lines)[6]])
            #expect(k.framing.slabIsWhole)
        }
    }

    /// A record longer than the bytes a stream keeps resident between records gives the rest
    /// back once handed on; the buffer serves the next records as before.
    @Test func recordsLongerThanTheRetainedBytesFollowOneAnother() throws {
        let pool = try makePool(maxEventSizeBytes: 256 << 10)
        let k = ContainerLogFraming(pool: pool)
        let piece = String(repeating: "0123456789abcdef", count: 1024)  // 16 KiB, as containerd's
        var lines: [String] = []
        for record in 0..<3 {
            lines += Array(repeating: "2024 stdout P \(piece)", count: 6 - 2 * record) + ["2024 stdout F end \(record)"]
        }
        k.framing.feed(bytes(lines), splitAt: [])
        k.framing.drain()
        #expect(k.logs == (0..<3).map { String(repeating: piece, count: 6 - 2 * $0) + "end \($0)" })
        #expect(k.framing.slabIsWhole)
    }

    /// The pool's large slot is taken: a line whose event outgrows its ordinary slot waits for
    /// it with its newline unread (nothing cut, nothing appended twice), and goes on once it is back.
    @Test func anEventThatNeedsALargeSlotWaitsForOne() throws {
        let pool = try makePool(largeSlots: 1)
        let k = ContainerLogFraming(pool: pool)
        let controls = String(repeating: "\u{01}", count: 400)  // 400 bytes, 2400 escaped
        let input = bytes(["2024 stdout P \(controls)", "2024 stdout F \(controls)"])
        let held = try #require(pool.takeLarge())
        var (consumed, stop) = k.framing.frame(input[0...], at: 0)
        #expect(stop == .poolExhausted)
        #expect(input[consumed] == 10 && consumed == input.count - 1, "the newline of the last line is left")
        let position = consumed
        for _ in 0..<3 {
            (consumed, stop) = k.framing.frame(input[position...], at: UInt64(position))
            #expect(stop == .poolExhausted && consumed == 0, "still waiting")
        }
        pool.slabs.pointee.release(held.header.pointee.handle)
        (consumed, stop) = k.framing.frame(input[position...], at: UInt64(position))
        #expect(stop == .consumedAll && consumed == 1)
        k.framing.drain()
        #expect(k.logs.map { $0.unicodeScalars.count } == [800] && k.logs.allSatisfy { $0.unicodeScalars.allSatisfy { $0 == "\u{01}" } },
                "both lines' messages once, not the last one twice")
        #expect(k.records.first.map { $0.bytes.count > 4800 && !$0.flags.contains(.cut) } == true)
        #expect(k.offsets == [UInt64(input.count)])
        #expect(k.framing.slabIsWhole)
    }

    // MARK: - End of a file

    /// A rotated file read to its end hands on its last line but not a pending record: the
    /// runtime writes the rest of a split line into the new file. At the end of the source the
    /// pending record is handed on, flagged partial.
    @Test func aPendingRecordGoesOnInTheNextFileAndIsHandedOnAtTheEndOfTheSource() throws {
        let k = ContainerLogFraming(pool: try makePool())
        let old = bytes(["2024 stdout F old", "2024 stdout P begun in the old file, "])
        k.framing.feed(old, splitAt: [])
        k.framing.finish(at: UInt64(old.count))
        #expect(k.logs == ["old"])
        k.framing.framer.decoder.restarted()
        let new = bytes(["2024 stderr F other stream", "2024 stdout F ended in the new one", "2024 stderr P left open"])
        k.framing.feed(new, splitAt: [])
        k.framing.finish(at: UInt64(new.count), endOfSource: true)
        #expect(k.logs == ["old", "other stream", "begun in the old file, ended in the new one", "left open"])
        #expect(k.offsets == [ends(["2024 stdout F old"])[0], 0, ends(["2024 stderr F other stream", "2024 stdout F ended in the new one"])[1], UInt64(new.count)])
        #expect(k.records.last.map { $0.flags.contains(.partial) } == true)
        #expect(k.count(.partialRecords) == 1)
        #expect(k.framing.slabIsWhole)
    }

    @Test func abandoningDropsAPendingRecord() throws {
        let k = ContainerLogFraming(pool: try makePool())
        k.framing.feed(bytes(["2024 stdout P dropped "]), splitAt: [])
        k.framing.framer.abandon(slab: k.framing.slab)
        k.framing.feed(bytes(["2024 stdout F alone"]), splitAt: [])
        k.framing.finish(at: 0, endOfSource: true)
        #expect(k.logs == ["alone"])
        #expect(k.framing.slabIsWhole)
    }
}
