import Foundation
import Glibc
import Testing
@testable import SluiceCore

/// A buffer directory in a temporary place, with segments written as the worker writes them.
final class BufferDirectoryFixture {
    let base = NSTemporaryDirectory() + "disk-buffer-\(UUID().uuidString)"
    var worker: String { BufferDirectory.workerDirectory(base, worker: 0) }
    var logged: [String] = []

    init() throws { try FileManager.default.createDirectory(atPath: worker, withIntermediateDirectories: true) }
    deinit { try? FileManager.default.removeItem(atPath: base) }

    func path(_ number: UInt64) -> String { worker + "/" + BufferDirectory.segmentName(number) }

    func write(_ segment: SegmentBytes, number: UInt64) {
        FileManager.default.createFile(atPath: path(number), contents: Data(segment.bytes))
    }

    func size(_ number: UInt64) -> Int { fileSize(path(number)) }

    func recover() throws -> BufferRecovery {
        let recovery = try BufferDirectory.recover(worker, maxPayloadBytes: 1 << 16) { self.logged.append($0) }
        close(recovery.directoryFD)
        return recovery
    }

    func scan(_ number: UInt64, from: UInt64 = 0) throws -> BufferDirectory.SegmentScan {
        let fd = open(path(number), O_RDONLY)
        defer { close(fd) }
        return try BufferDirectory.scanSegment(fd: fd, bytes: UInt64(size(number)), number: number, from: from, maxPayloadBytes: 1 << 16)
    }
}

func fileSize(_ path: String) -> Int {
    var info = stat()
    return stat(path, &info) == 0 ? Int(info.st_size) : -1
}

@Suite struct BufferDirectoryTests {
    @Test func segmentNamesSortAsTheirNumbersAndParseBack() {
        #expect(BufferDirectory.segmentName(1) == "00000000000000000001.seg")
        #expect(BufferDirectory.segmentNumber("00000000000000012345.seg") == 12345)
        #expect(BufferDirectory.segmentNumber("12345.seg") == nil)
        #expect(BufferDirectory.segmentNumber("position") == nil)
        #expect(BufferDirectory.segmentName(UInt64.max).count == 24)
    }

    @Test func writtenSegmentsAreReadBackRecordByRecordAndNumberingGoesOnAfterTheLast() throws {
        let dir = try BufferDirectoryFixture()
        dir.write(.records(1...100), number: 1)
        dir.write(.records(101...250), number: 101)
        let scan = try dir.scan(101)
        #expect(scan.records == 150 && scan.lastSequence == 250 && scan.corruptRegions == 0)
        #expect(scan.validEnd == UInt64(dir.size(101)))
        let recovery = try dir.recover()
        #expect(recovery.segments == [RecoveredSegment(number: 1, bytes: UInt64(dir.size(1))), RecoveredSegment(number: 101, bytes: UInt64(dir.size(101)))])
        #expect(recovery.nextSequence == 251)
        #expect(recovery.readOffset == 0 && recovery.tornTails == 0)
        #expect(dir.logged.isEmpty)
    }

    @Test func aLastSegmentTruncatedMidRecordHasItsTornTailCutCountedAndLoggedWithItsPosition() throws {
        let dir = try BufferDirectoryFixture()
        let segment = SegmentBytes.records(1...50)
        dir.write(segment, number: 1)
        let cutAt = segment.starts[40] + 17
        #expect(truncate(dir.path(1), off_t(cutAt)) == 0)
        let recovery = try dir.recover()
        #expect(recovery.tornTails == 1)
        #expect(recovery.tornBytes == 17)
        #expect(dir.size(1) == segment.starts[40])
        #expect(recovery.segments.last?.bytes == UInt64(segment.starts[40]))
        #expect(recovery.nextSequence == 41)
        #expect(dir.logged.count == 1 && dir.logged[0].contains("torn tail at byte \(segment.starts[40])"), "\(dir.logged)")
    }

    @Test func garbageAfterTheLastRecordIsATornTailToo() throws {
        let dir = try BufferDirectoryFixture()
        var segment = SegmentBytes.records(1...10)
        let end = segment.bytes.count
        segment.bytes += [UInt8](repeating: 0xEE, count: 100)
        dir.write(segment, number: 1)
        let recovery = try dir.recover()
        #expect(recovery.tornTails == 1 && dir.size(1) == end)
    }

    @Test func aCorruptRecordInTheMiddleIsSkippedToTheNextValidOneAndNotCut() throws {
        let dir = try BufferDirectoryFixture()
        var segment = SegmentBytes.records(1...30)
        segment.bytes[segment.starts[12] + 30] ^= 0xFF  // a payload byte of record 13
        segment.bytes[segment.starts[20] + 2] ^= 0x01   // the checksum of record 21
        dir.write(segment, number: 1)
        let scan = try dir.scan(1)
        #expect(scan.records == 28 && scan.corruptRegions == 2 && scan.lastSequence == 30)
        let recovery = try dir.recover()
        #expect(recovery.tornTails == 0 && dir.size(1) == segment.bytes.count)
        #expect(recovery.nextSequence == 31)
    }

    @Test func aCorruptLengthFieldIsSkippedByItsChecksumNotFollowed() throws {
        let dir = try BufferDirectoryFixture()
        var segment = SegmentBytes.records(1...10)
        segment.bytes[segment.starts[3] + 5] = 0x7F  // length now far beyond the segment
        dir.write(segment, number: 1)
        let scan = try dir.scan(1)
        #expect(scan.records == 9 && scan.corruptRegions == 1 && scan.validEnd == UInt64(segment.bytes.count))
    }

    @Test func thePositionIsWrittenAtomicallyAndReadBack() throws {
        let dir = try BufferDirectoryFixture()
        let position = BufferPosition(segment: 101, offset: 4567, sequence: 890)
        try BufferDirectory.writePosition(position, directory: dir.worker)
        let fd = open(dir.worker, O_RDONLY | O_DIRECTORY)
        defer { close(fd) }
        #expect(BufferDirectory.readPosition(directoryFD: fd) == position)
        #expect(!FileManager.default.fileExists(atPath: dir.worker + "/" + BufferPosition.temporaryName))
        #expect(BufferPosition.parse(position.text) == position)
        #expect(BufferPosition.parse("segment=1 offset=2\n") == nil)
        #expect(BufferPosition.parse("segment=1 offset=x sequence=3\n") == nil)
    }

    @Test func segmentsBeforeTheSavedPositionAreDeletedAndReadingStartsAtItsOffset() throws {
        let dir = try BufferDirectoryFixture()
        let second = SegmentBytes.records(101...200)
        dir.write(.records(1...100), number: 1)
        dir.write(second, number: 101)
        dir.write(.records(201...300), number: 201)
        try BufferDirectory.writePosition(BufferPosition(segment: 101, offset: UInt64(second.starts[50]), sequence: 300), directory: dir.worker)
        let recovery = try dir.recover()
        #expect(!FileManager.default.fileExists(atPath: dir.path(1)))
        #expect(recovery.segments.map(\.number) == [101, 201])
        #expect(recovery.readOffset == UInt64(second.starts[50]))
        #expect(recovery.nextSequence == 301)
    }

    @Test func aPositionWhoseSegmentIsGoneStartsAtTheNextSegmentsBeginning() throws {
        let dir = try BufferDirectoryFixture()
        dir.write(.records(201...300), number: 201)
        try BufferDirectory.writePosition(BufferPosition(segment: 101, offset: 999, sequence: 300), directory: dir.worker)
        let recovery = try dir.recover()
        #expect(recovery.segments.map(\.number) == [201] && recovery.readOffset == 0)
    }

    @Test func aPositionFileThatIsNotOneIsLoggedAndReadingStartsAtTheOldestSegment() throws {
        let dir = try BufferDirectoryFixture()
        dir.write(.records(1...10), number: 1)
        FileManager.default.createFile(atPath: dir.worker + "/" + BufferPosition.fileName, contents: Data("garbage".utf8))
        let recovery = try dir.recover()
        #expect(recovery.segments.map(\.number) == [1] && recovery.readOffset == 0)
        #expect(dir.logged.contains { $0.contains("is not a position") }, "\(dir.logged)")
    }

    @Test func anEmptyLastSegmentIsRemovedAndNumberingContinuesFromTheOneBefore() throws {
        let dir = try BufferDirectoryFixture()
        dir.write(.records(1...20), number: 1)
        dir.write(SegmentBytes(), number: 21)
        let recovery = try dir.recover()
        #expect(recovery.segments.map(\.number) == [1])
        #expect(!FileManager.default.fileExists(atPath: dir.path(21)))
        #expect(recovery.nextSequence == 21)
    }

    @Test func numberingNeverGoesBackBelowTheSavedPositionWhenEverySegmentWasDelivered() throws {
        let dir = try BufferDirectoryFixture()
        try BufferDirectory.writePosition(BufferPosition(segment: 501, offset: 0, sequence: 700), directory: dir.worker)
        let recovery = try dir.recover()
        #expect(recovery.segments.isEmpty && recovery.nextSequence == 701)
    }

    @Test func aSecondLockOnTheSameBufferDirectoryIsRefused() throws {
        let dir = try BufferDirectoryFixture()
        let fd = try BufferDirectory.lock(dir.base)
        defer { close(fd) }
        #expect(throws: SystemError.self) { _ = try BufferDirectory.lock(dir.base) }
    }

    @Test func anOrphanedWorkerDirectoryIsCopiedAfterTheAdoptersRecordsRenumberedAndRemoved() throws {
        let dir = try BufferDirectoryFixture()
        dir.write(.records(1...100), number: 1)
        let orphan = BufferDirectory.workerDirectory(dir.base, worker: 3)
        try FileManager.default.createDirectory(atPath: orphan, withIntermediateDirectories: true)
        #expect(BufferDirectory.orphanedWorkers(dir.base, workerCount: 1) == [3])
        #expect(BufferDirectory.orphanedWorkers(dir.base, workerCount: 4).isEmpty)
        // Records 1...40 of the orphan were delivered (its position), 41...90 were not.
        let first = SegmentBytes.records(1...60), second = SegmentBytes.records(61...90)
        FileManager.default.createFile(atPath: orphan + "/" + BufferDirectory.segmentName(1), contents: Data(first.bytes))
        FileManager.default.createFile(atPath: orphan + "/" + BufferDirectory.segmentName(61), contents: Data(second.bytes))
        try BufferDirectory.writePosition(BufferPosition(segment: 1, offset: UInt64(first.starts[40]), sequence: 40), directory: orphan)

        var recovery = try BufferDirectory.recover(dir.worker, maxPayloadBytes: 1 << 16) { dir.logged.append($0) }
        defer { close(recovery.directoryFD) }
        let adoption = try BufferDirectory.adopt(orphan, into: &recovery, maxPayloadBytes: 1 << 16) { dir.logged.append($0) }
        #expect(adoption.records == 50 && adoption.segments == 2 && adoption.corruptRegions == 0)
        #expect(!FileManager.default.fileExists(atPath: orphan))
        #expect(BufferDirectory.orphanedWorkers(dir.base, workerCount: 1).isEmpty)
        #expect(recovery.segments.map(\.number) == [1, 101, 121])
        #expect(recovery.nextSequence == 151)
        // The copies read back as valid records numbered on, with the orphan's payloads in order.
        let again = try dir.recover()
        #expect(again.segments == recovery.segments)
        #expect(again.nextSequence == 151)
        var payloads: [String] = []
        for number: UInt64 in [101, 121] {
            let fd = open(dir.path(number), O_RDONLY)
            defer { close(fd) }
            let scan = try BufferDirectory.scanSegment(fd: fd, bytes: UInt64(dir.size(number)), number: number, from: 0, maxPayloadBytes: 1 << 16) { record, header in
                payloads.append(String(decoding: UnsafeRawBufferPointer(start: record + BufferRecord.headerBytes, count: header.payloadBytes), as: UTF8.self))
            }
            #expect(scan.corruptRegions == 0)
        }
        #expect(payloads == (41...90).map { "{\"n\":\($0),\"pad\":\"abcdefghijklmnop\"}" })
        #expect(dir.logged.contains { $0.contains("50 undelivered record(s)") }, "\(dir.logged)")
    }
}
