import Batch
import BatchTestSupport
import Foundation
import Testing

@Suite("CSV item writer")
struct CSVItemWriterTests {
    @Test func quotesOnlyWhatNeedsIt() throws {
        try withTemporaryDirectory { directory in
            let path = directory + "/out.csv"
            let writer = CSVItemWriter<[String]>(path: path, header: ["a", "b"]) { $0 }
            var context = ExecutionContext()
            try writer.open(context)
            try writer.write([["plain", "with,comma"], ["say \"hi\"", "two\nlines"], ["cr\r", ""], [""]], in: ChunkHarness.chunk())
            try writer.update(&context)
            try writer.close()
            let text = try readFile(path)
            #expect(text == "a,b\nplain,\"with,comma\"\n\"say \"\"hi\"\"\",\"two\nlines\"\n\"cr\r\",\n\"\"\n")
            #expect(context.int("csvWriter.offset") == Int64(text.utf8.count))
        }
    }

    @Test func aRolledBackChunkWritesNothing() throws {
        try withTemporaryDirectory { directory in
            let path = directory + "/out.csv"
            let writer = CSVItemWriter<String>(path: path) { [$0] }
            var context = ExecutionContext()
            try writer.open(context)
            try writer.write(["rolled back"], in: ChunkHarness.chunk())
            // No update: the engine rolled that chunk back and goes on with a new one.
            try writer.write(["kept"], in: ChunkHarness.chunk())
            try writer.update(&context)
            try writer.write(["never committed"], in: ChunkHarness.chunk())
            try writer.close()
            #expect(try readFile(path) == "kept\n")
        }
    }

    @Test func restartCutsBackToTheCommittedOffset() throws {
        try withTemporaryDirectory { directory in
            let path = directory + "/out.csv"
            try writeFile(path, "h\n1\n2\nwritten after the last commit\n")
            let writer = CSVItemWriter<String>(path: path, header: ["h"]) { [$0] }
            var context: ExecutionContext = ["csvWriter.offset": 6]
            try writer.open(context)
            try writer.write(["3"], in: ChunkHarness.chunk())
            try writer.update(&context)
            try writer.close()
            #expect(try readFile(path) == "h\n1\n2\n3\n")
            #expect(context.int("csvWriter.offset") == 8)

            let short = #expect(throws: ItemStreamError.self) { try writer.open(["csvWriter.offset": 100]) }
            #expect(short?.code == .badCheckpoint)
            let gone = CSVItemWriter<String>(path: directory + "/gone.csv") { [$0] }
            let missing = #expect(throws: ItemStreamError.self) { try gone.open(["csvWriter.offset": 1]) }
            #expect(missing?.code == .badCheckpoint)
            #expect(!FileManager.default.fileExists(atPath: directory + "/gone.csv"))
        }
    }

    @Test func aFreshStartEmptiesTheFile() throws {
        try withTemporaryDirectory { directory in
            let path = directory + "/out.csv"
            try writeFile(path, "old content\n")
            let writer = CSVItemWriter<String>(path: path, header: ["h"]) { [$0] }
            var context = ExecutionContext()
            try writer.open(context)
            try writer.update(&context)
            try writer.close()
            #expect(try readFile(path) == "h\n")
            let unopened = CSVItemWriter<String>(path: path) { [$0] }
            let error = #expect(throws: ItemStreamError.self) { try unopened.write(["x"], in: ChunkHarness.chunk()) }
            #expect(error?.code == .notOpen)
        }
    }
}

extension CSVItemWriterTests {
    @Test func aFailedOpenLeavesTheWriterClosed() throws {
        try withTemporaryDirectory { directory in
            let path = directory + "/out.csv"
            try writeFile(path, "short\n")
            let writer = CSVItemWriter<String>(path: path) { [$0] }
            #expect(throws: ItemStreamError.self) { try writer.open(["csvWriter.offset": 100]) }
            let error = #expect(throws: ItemStreamError.self) { try writer.write(["x"], in: ChunkHarness.chunk()) }
            #expect(error?.code == .notOpen)
            #expect(try readFile(path) == "short\n")
        }
    }
}
