import Foundation
import Testing

extension EndToEndTests {
    @Suite struct StdinInput {
        @Test func linesPipedIntoStdinComeOutOnStdout() throws {
            let directory = try TemporaryDirectory()
            let sluice = try SluiceProcess(["run", "--input", "stdin", "--output", "stdout"], in: directory, standardInput: .pipe)
            try sluice.writeInput(Data("one\ntwo\n\nthree {\"k\":1}\nlast without newline".utf8))
            try sluice.closeInput()
            #expect(try sluice.waitForExit(within: .seconds(10)) == .exited(0))
            #expect(String(decoding: sluice.standardOutput(), as: UTF8.self) == "one\ntwo\nthree {\"k\":1}\nlast without newline\n")
            let summary = try sluice.summary()
            #expect(summary.count("events_in") == 4, "\(summary)")
            #expect(summary.count("partial_records") == 1, "\(summary)")
            #expect(summary.count("empty_lines") == 1, "\(summary)")
        }

        @Test func twoHundredThousandLinesInRandomSizedPipeWritesArriveInOrder() throws {
            let directory = try TemporaryDirectory()
            let lines = ByteBuilder(capacity: 200_000 * 40)
            for i in 0..<200_000 {
                lines.append("{\"n\":")
                lines.append(decimal: i, width: 6)
                lines.append(",\"check\":\"")
                lines.append(hex: mix(UInt64(i)))
                lines.append("\"}\n")
            }
            let input = lines.data
            let sluice = try SluiceProcess(["run", "--input", "stdin", "--output", "stdout"], in: directory, standardInput: .pipe)
            var random = SeededRandom(seed: 42)
            var offset = 0
            while offset < input.count {
                let size = min(Int.random(in: 1...70_000, using: &random), input.count - offset)
                try sluice.writeInput(input[offset..<offset + size])
                offset += size
            }
            try sluice.closeInput()
            #expect(try sluice.waitForExit(within: .seconds(60)) == .exited(0))
            expectSameBytes(sluice.standardOutput(), input)
        }
    }
}
