import Foundation
import Testing
@testable import SluiceCore

@Suite struct OffsetFileTests {
    let records = [
        OffsetFile.Record(path: "/var/log/a.log", inode: 12, device: 2049, offset: 4096),
        OffsetFile.Record(path: "/var/log/with space.log", inode: 13, device: 2049, offset: 0),
    ]

    @Test func renderedRecordsParseBackUnchanged() throws {
        let text = OffsetFile.render(records)
        #expect(try OffsetFile.parse(text, path: "x") == records)
    }

    @Test func writeReplacesTheFileAtomicallyAndReadReturnsTheRecords() throws {
        let dir = NSTemporaryDirectory() + "offsets-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/offsets"
        try OffsetFile.write(path: path, records: records)
        #expect(try OffsetFile.read(path: path) == records)
        try OffsetFile.write(path: path, records: [records[0]])
        #expect(try OffsetFile.read(path: path) == [records[0]])
        #expect(!FileManager.default.fileExists(atPath: path + ".tmp"))
    }

    @Test func anAbsentFileHasNoRecords() throws {
        #expect(try OffsetFile.read(path: "/nonexistent/dir/offsets").isEmpty)
    }

    @Test(arguments: [
        ("", 1, "missing header"),
        ("garbage\n", 1, "missing header"),
        (OffsetFile.header + "\n12 x 3 /a\n", 2, "expected 'OFFSET INODE DEVICE PATH'"),
        (OffsetFile.header + "\n12 1 3\n", 2, "expected 'OFFSET INODE DEVICE PATH'"),
        (OffsetFile.header + "\n12 1 3 /a", 2, "truncated"),
    ])
    func aCorruptFileIsReportedWithItsLineAndReason(text: String, line: Int, reason: String) {
        do {
            _ = try OffsetFile.parse(text, path: "off.txt")
            Issue.record("accepted a corrupt offsets file: \(text.debugDescription)")
        } catch {
            #expect(error.line == line)
            #expect(error.description.contains("off.txt:\(line)"))
            #expect(error.reason.contains(reason))
        }
    }
}
