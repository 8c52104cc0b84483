import Batch
import BatchTestSupport
import Foundation
import Testing

@Suite("CSV item reader")
struct CSVItemReaderTests {
    @Test func readsQuotedFieldsHeaderAndALastLineWithoutNewline() throws {
        try withTemporaryDirectory { directory in
            let path = directory + "/in.csv"
            try writeFile(
                path,
                "\u{FEFF}id,name,memo\r\n"
                    + "1,Ann,plain\r\n"
                    + "2,\"Smith, Bob\",\"he said \"\"hi\"\"\"\n"
                    + "\n"
                    + "3,Cé,\"two\nlines\"\n"
                    + "4,,\"\"\n"
                    + "5,last,no newline")
            let reader = CSVItemReader(path: path) { record in
                (record.line, record["id"]!, record["name"]!, record["memo"]!)
            }
            try reader.open([:])
            let rows = try ChunkHarness.readAll(reader)
            #expect(rows.map(\.0) == [2, 3, 5, 7, 8])
            #expect(rows.map(\.1) == ["1", "2", "3", "4", "5"])
            #expect(rows.map(\.2) == ["Ann", "Smith, Bob", "Cé", "", "last"])
            #expect(rows.map(\.3) == ["plain", "he said \"hi\"", "two\nlines", "", "no newline"])
            #expect(try reader.read(in: ChunkHarness.chunk()) == nil)
            try reader.close()
        }
    }

    @Test func readsOtherDelimitersWithoutAHeader() throws {
        try withTemporaryDirectory { directory in
            let path = directory + "/in.csv"
            try writeFile(path, "a;\"b;c\";\n;;\n")
            let reader = CSVItemReader(path: path, delimiter: ";", hasHeader: false) { $0.fields }
            try reader.open([:])
            #expect(try ChunkHarness.readAll(reader) == [["a", "b;c", ""], ["", "", ""]])
        }
    }

    @Test func badRecordsAreReportedByLineAndReadingGoesOn() throws {
        try withTemporaryDirectory { directory in
            let path = directory + "/in.csv"
            var bytes = Array("id,name\n1,ok\n2,too,many\n3,bad\"quote\n4,\"closed\"junk\n5,".utf8)
            bytes += [0xC3, 0x28]  // not UTF-8
            bytes += Array("\n6,\"multi\nline\",extra\n7,fine\n8,\"never closed\n9,after\n".utf8)
            try writeFile(path, bytes: bytes)
            let reader = CSVItemReader(path: path) { record in
                guard record["id"] != "7" else { throw MappingRefused() }
                return record["id"]!
            }
            try reader.open([:])
            let chunk = ChunkHarness.chunk()
            var good: [String] = []
            var errors: [FlatFileParseError] = []
            while true {
                do {
                    guard let id = try reader.read(in: chunk) else { break }
                    good.append(id)
                } catch let error as FlatFileParseError {
                    errors.append(error)
                }
            }
            #expect(good == ["1", "9"])
            #expect(errors.map(\.code) == [
                .wrongFieldCount, .misplacedQuote, .misplacedQuote, .invalidUTF8, .wrongFieldCount, .mappingFailed,
                .unterminatedQuote,
            ])
            #expect(errors.map(\.line) == [3, 4, 5, 6, 7, 9, 10])
            #expect(errors[0].rawText == "2,too,many")
            #expect(errors[0].description == "\(path):3: line 3 has 3 fields, but the header names 2")
            #expect(errors[4].rawText == "6,\"multi\nline\",extra")
            #expect(errors[5].underlying is MappingRefused)
            #expect(errors[6].rawText == "8,\"never closed")
            #expect(errors[6].description.contains("never closed before the end of the file"))
        }
    }

    @Test func longRawTextIsCut() throws {
        try withTemporaryDirectory { directory in
            let path = directory + "/in.csv"
            try writeFile(path, "a,b\n" + String(repeating: "x", count: 500) + "\n")
            let reader = CSVItemReader(path: path) { $0.fields }
            try reader.open([:])
            let error = #expect(throws: FlatFileParseError.self) { try reader.read(in: ChunkHarness.chunk()) }
            #expect(error?.rawText == String(repeating: "x", count: 200) + "...")
        }
    }

    @Test func recordsSpanningManyBuffersReadBackExactly() throws {
        try withTemporaryDirectory { directory in
            let path = directory + "/big.csv"
            let expected = (0..<20_000).map { index in
                [String(index), index % 7 == 0 ? "q\"uo,te\n\(index)" : "v\(index)", String(repeating: "z", count: index % 50)]
            }
            let writer = CSVItemWriter<[String]>(path: path, header: ["id", "text", "pad"]) { $0 }
            var context = ExecutionContext()
            try writer.open(context)
            try writer.write(expected, in: ChunkHarness.chunk())
            try writer.update(&context)
            try writer.close()
            let reader = CSVItemReader(path: path) { $0.fields }
            try reader.open([:])
            #expect(try ChunkHarness.readAll(reader) == expected)
        }
    }

    @Test func failingMidwayAndRestartingLosesAndRepeatsNothing() throws {
        try withTemporaryDirectory { directory in
            let input = directory + "/in.csv"
            let output = directory + "/out.csv"
            var text = "id,memo\n"
            for id in 1...95 { text += id % 10 == 0 ? "\(id),\"line\nbreak, \"\"\(id)\"\"\"\n" : "\(id),m\(id)\n" }
            try writeFile(input, text)
            func reader() -> CSVItemReader<[String]> { CSVItemReader(path: input, name: "in") { $0.fields } }
            func writer() -> CSVItemWriter<[String]> { CSVItemWriter(path: output, name: "out", header: ["id", "memo"]) { $0 } }

            let harness = try ChunkHarness()
            #expect(throws: ChunkHarness.Crash.self) {
                try harness.run(reader(), writer(), commitInterval: 10, failure: .afterUpdate(chunk: 4)) { $0 }
            }
            #expect(try harness.saved.int("in.line") == 34)  // header, 30 records, 3 of them on two lines
            #expect(try harness.saved.keys == ["in.line", "in.offset", "out.offset"])
            #expect(throws: ChunkHarness.Crash.self) {
                try harness.run(reader(), writer(), commitInterval: 10, failure: .afterWrite(chunk: 2)) { $0 }
            }
            #expect(!(try harness.run(reader(), writer(), commitInterval: 10, stopAfter: 2) { $0 }))
            #expect(try harness.lastExecution?.status == .stopped)
            #expect(try harness.run(reader(), writer(), commitInterval: 10) { $0 })
            #expect(try harness.lastExecution?.status == .completed)
            #expect(try readFile(output) == text)
        }
    }

    @Test func aChangedFileIsRefusedOnRestart() throws {
        try withTemporaryDirectory { directory in
            let path = directory + "/in.csv"
            try writeFile(path, "a\n1\n2\n")
            let reader = CSVItemReader(path: path, name: "in") { $0.fields }
            let error = #expect(throws: ItemStreamError.self) { try reader.open(["in.offset": 99]) }
            #expect(error?.code == .badCheckpoint)
            #expect(throws: ItemStreamError.self) { try reader.read(in: ChunkHarness.chunk()) }
            let missing = CSVItemReader(path: directory + "/none.csv") { $0.fields }
            let notFound = #expect(throws: ItemStreamError.self) { try missing.open([:]) }
            #expect(notFound?.code == .fileSystem)
            #expect(notFound?.description.contains("none.csv") == true)
        }
    }
}

struct MappingRefused: Error {}

extension CSVItemReaderTests {
    @Test func aQuoteLeftOpenDoesNotSwallowTheRestOfTheFile() throws {
        try withTemporaryDirectory { directory in
            let path = directory + "/in.csv"
            var text = "a,b\n1,\"opened here\n"
            let filler = String(repeating: "x", count: 60)
            for index in 2...150_000 { text += "\(index),\(filler)\n" }
            try writeFile(path, text)
            // About 10 MB after the open quote: past a 4 MiB limit, short of the file's end.
            let reader = CSVItemReader(path: path, maximumRecordBytes: 4 << 20) { $0[0] }
            try reader.open([:])
            let chunk = ChunkHarness.chunk()
            let error = #expect(throws: FlatFileParseError.self) { try reader.read(in: chunk) }
            #expect(error?.code == .unterminatedQuote)
            #expect(error?.line == 2)
            #expect(error?.rawText == "1,\"opened here")
            #expect(error?.message.contains("still open after") == true)
            #expect(try reader.read(in: chunk) == "2")
            var context = ExecutionContext()
            try reader.update(&context)
            #expect(context.int("csvReader.line") == 3)
        }
    }
}

extension CSVItemReaderTests {
    /// A 1 MB quoted field made of escaped quotes: 500,000 doubled quotes. Un-escaping that
    /// copied the value so far at each one would copy over 100 GB and run past the time limit;
    /// linear work takes a fraction of it. (No clock is read: the time limit is the check.)
    @Test(.timeLimit(.minutes(1))) func unescapingALongFieldOfDoubledQuotesIsLinear() throws {
        try withTemporaryDirectory { directory in
            let path = directory + "/quotes.csv"
            let quotes = 500_000
            var bytes = Array("id,text\n1,\"".utf8)
            bytes.reserveCapacity(bytes.count + quotes * 2 + 16)
            for index in 0..<quotes { bytes += index % 1000 == 999 ? [0x61, 0x22, 0x22] : [0x22, 0x22] }
            bytes += Array("\"\n2,after\n".utf8)
            try writeFile(path, bytes: bytes)
            let reader = CSVItemReader(path: path) { ($0["id"]!, $0["text"]!) }
            try reader.open([:])
            let rows = try ChunkHarness.readAll(reader)
            #expect(rows.count == 2)
            let text = rows[0].1
            #expect(text.utf8.count == quotes + quotes / 1000)
            #expect(text.utf8.allSatisfy { $0 == 0x22 || $0 == 0x61 })
            #expect(rows[1].0 == "2" && rows[1].1 == "after")
        }
    }

    @Test func aRecordLongerThanTheLimitIsReportedAndReadingGoesOn() throws {
        try withTemporaryDirectory { directory in
            let path = directory + "/long.csv"
            let long = String(repeating: "x", count: 300_000)
            try writeFile(path, "id,text\n1,short\n2,\(long)\n3,\"quoted \(long)\"\n4,last\n")
            let reader = CSVItemReader(path: path, maximumRecordBytes: 100_000) { $0["id"]! }
            #expect(reader.maximumRecordBytes == 100_000)
            try reader.open([:])
            let chunk = ChunkHarness.chunk()
            #expect(try reader.read(in: chunk) == "1")
            for line in [3, 4] {
                let error = try #require(throws: FlatFileParseError.self) { try reader.read(in: chunk) }
                #expect(error.code == .recordTooLong)
                #expect(error.line == line)
                #expect(error.description.hasPrefix(path + ":\(line): "))
                #expect(error.message.contains("longer than 100000 bytes"))
                #expect(error.message.contains("maximumRecordBytes"))
                #expect(error.rawText.hasSuffix("..."))
            }
            #expect(try reader.read(in: chunk) == "4")
            #expect(try reader.read(in: chunk) == nil)
            var context = ExecutionContext()
            try reader.update(&context)
            #expect(context.int("csvReader.line") == 5)
            // The default limit lets the same records through.
            let lenient = CSVItemReader(path: path) { $0["id"]! }
            try lenient.open([:])
            #expect(try ChunkHarness.readAll(lenient) == ["1", "2", "3", "4"])
            #expect(FlatFileRecordLimit.defaultBytes == 16 << 20)
        }
    }

    @Test func aJSONLineLongerThanTheLimitIsReportedAndReadingGoesOn() throws {
        try withTemporaryDirectory { directory in
            let path = directory + "/long.jsonl"
            let long = String(repeating: "y", count: 50_000)
            try writeFile(path, "{\"id\":1}\n{\"id\":2,\"pad\":\"\(long)\"}\n{\"id\":3}\n")
            struct Row: Decodable { var id: Int }
            let reader = JSONLinesItemReader<Row>(path: path, maximumRecordBytes: 10_000)
            try reader.open([:])
            let chunk = ChunkHarness.chunk()
            #expect(try reader.read(in: chunk)?.id == 1)
            let error = try #require(throws: FlatFileParseError.self) { try reader.read(in: chunk) }
            #expect(error.code == .recordTooLong)
            #expect(error.line == 2)
            #expect(error.description.contains("long.jsonl:2: line 2 is longer than 10000 bytes"))
            #expect(try reader.read(in: chunk)?.id == 3)
            #expect(try reader.read(in: chunk) == nil)
        }
    }
}
