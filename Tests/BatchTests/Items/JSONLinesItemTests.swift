import Batch
import BatchTestSupport
import Foundation
import Testing

@Suite("JSON lines reader and writer")
struct JSONLinesItemTests {
    struct Payment: Codable, Equatable {
        var id: Int64
        var memo: String
    }

    @Test func badLinesAreReportedByLineAndReadingGoesOn() throws {
        try withTemporaryDirectory { directory in
            let path = directory + "/in.jsonl"
            var bytes = Array("{\"id\":1,\"memo\":\"a\"}\r\n\n{\"id\":2,\"memo\":}\n{\"id\":\"x\",\"memo\":\"b\"}\n{\"memo\":\"c\"}\n".utf8)
            bytes += [0x22, 0xFF, 0x22, 0x0A]
            bytes += Array("  \n{\"id\":3,\"memo\":\"d\\ne\"}\n{\"id\":4,\"memo\":\"cut".utf8)
            try writeFile(path, bytes: bytes)
            let reader = JSONLinesItemReader<Payment>(path: path)
            try reader.open([:])
            let chunk = ChunkHarness.chunk()
            var good: [Payment] = []
            var errors: [FlatFileParseError] = []
            while true {
                do {
                    guard let payment = try reader.read(in: chunk) else { break }
                    good.append(payment)
                } catch let error as FlatFileParseError {
                    errors.append(error)
                }
            }
            #expect(good == [Payment(id: 1, memo: "a"), Payment(id: 3, memo: "d\ne")])
            #expect(errors.map(\.code) == [.invalidJSON, .mappingFailed, .mappingFailed, .invalidUTF8, .invalidJSON])
            #expect(errors.map(\.line) == [3, 4, 5, 6, 9])
            #expect(errors[0].rawText == "{\"id\":2,\"memo\":}")
            #expect(errors[0].description.hasPrefix("\(path):3: line 3: not a valid JSON document (column 16"))
            #expect(errors[1].message.contains("expected Int64 at id"))
            #expect(errors[2].message.contains("no key \"id\""))
        }
    }

    @Test func failingMidwayAndRestartingLosesAndRepeatsNothing() throws {
        try withTemporaryDirectory { directory in
            let input = directory + "/in.jsonl"
            let output = directory + "/out.jsonl"
            let payments = (1...57).map { Payment(id: Int64($0), memo: $0 % 5 == 0 ? "new\nline \u{1F600}" : "m\($0)") }
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            let writer = JSONLinesItemWriter<Payment>(path: input, encoder: encoder)
            var context = ExecutionContext()
            try writer.open(context)
            try writer.write(payments, in: ChunkHarness.chunk())
            try writer.update(&context)
            try writer.close()
            let expected = try readFile(input)
            #expect(expected.split(separator: "\n").count == 57)

            func reader() -> JSONLinesItemReader<Payment> { JSONLinesItemReader(path: input, name: "in") }
            func copier() -> JSONLinesItemWriter<Payment> { JSONLinesItemWriter(path: output, name: "out", encoder: encoder) }
            let harness = try ChunkHarness()
            #expect(throws: ChunkHarness.Crash.self) {
                try harness.run(reader(), copier(), commitInterval: 8, failure: .afterUpdate(chunk: 3)) { $0 }
            }
            #expect(try harness.saved.int("in.line") == 16)
            #expect(throws: ChunkHarness.Crash.self) {
                try harness.run(reader(), copier(), commitInterval: 8, failure: .afterWrite(chunk: 1)) { $0 }
            }
            #expect(try harness.run(reader(), copier(), commitInterval: 8) { $0 })
            #expect(try readFile(output) == expected)
        }
    }
}
