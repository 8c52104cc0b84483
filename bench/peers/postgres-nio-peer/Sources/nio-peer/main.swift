// postgres-nio doing what Sources/swiftbatch-bench does with our PostgresClient, printed as the
// same JSON lines for scripts/bench.sh. One connection (no pool), as ours; the idiomatic calls.
//
//   nio-peer roundtrip <url> <iterations>   SELECT 1, unprepared (query) and prepared (execute)
//   nio-peer stream <url> <rows>            a generated result of narrow rows, decoded row by row
//   nio-peer copy <url> <rows>              copyFrom (COPY FROM STDIN, text) into bench_copy

import Foundation
import Logging
import NIOCore
import PostgresNIO

struct Usage: Error, CustomStringConvertible {
    let description: String
}

func seconds(_ duration: Duration) -> Double {
    let (whole, attoseconds) = duration.components
    return Double(whole) + Double(attoseconds) / 1e18
}

func median(_ values: [Double]) -> Double { values.sorted()[values.count / 2] }

func percentile(_ values: [Double], _ p: Double) -> Double {
    let sorted = values.sorted()
    return sorted[min(sorted.count - 1, Int(Double(sorted.count) * p))]
}

/// A `postgres://user[:password]@host[:port]/database` URL, as scripts/postgres.sh writes it.
func configuration(_ url: String) throws -> PostgresConnection.Configuration {
    guard let parts = URLComponents(string: url), parts.scheme == "postgres" || parts.scheme == "postgresql",
        let host = parts.host, !host.isEmpty
    else {
        throw Usage(description: "nio-peer takes a postgres://user@host:port/database URL, not \(url)")
    }
    let database = parts.path.hasPrefix("/") ? String(parts.path.dropFirst()) : parts.path
    return PostgresConnection.Configuration(
        host: host, port: parts.port ?? 5432, username: parts.user ?? "postgres",
        password: parts.password, database: database.isEmpty ? nil : database, tls: .disable)
}

struct SelectOne: PostgresPreparedStatement {
    static let sql = "SELECT 1"
    typealias Row = Int32
    func makeBindings() -> PostgresBindings { PostgresBindings() }
    func decodeRow(_ row: PostgresRow) throws -> Int32 { try row.decode(Int32.self) }
}

func roundTrip(_ db: PostgresConnection, iterations: Int, logger: Logger) async throws {
    let clock = ContinuousClock()
    for prepared in [false, true] {
        func once() async throws {
            if prepared {
                for try await _ in try await db.execute(SelectOne(), logger: logger) {}
            } else {
                for try await _ in try await db.query("SELECT 1", logger: logger) {}
            }
        }
        for _ in 0..<100 { try await once() }  // warm up
        var samples: [Double] = []
        samples.reserveCapacity(iterations)
        for _ in 0..<iterations {
            let start = clock.now
            try await once()
            samples.append(seconds(clock.now - start) * 1e6)
        }
        print(
            #"{"bench":"roundtrip","prepared":\#(prepared),"iterations":\#(iterations),"p50_us":\#(median(samples)),"p99_us":\#(percentile(samples, 0.99))}"#
        )
    }
}

func stream(_ db: PostgresConnection, rows: Int, logger: Logger) async throws {
    let clock = ContinuousClock()
    var count = 0
    var checksum: Int64 = 0
    let start = clock.now
    let sequence = try await db.query(
        "SELECT g, g % 100000, 'payment ' || g FROM generate_series(1::bigint, \(unescaped: String(rows))) g",
        logger: logger)
    for try await (id, account, memo) in sequence.decode((Int64, Int64, String).self) {
        checksum &+= id &+ account &+ Int64(memo.utf8.count)
        count += 1
    }
    let elapsed = seconds(clock.now - start)
    print(#"{"bench":"stream","rows":\#(count),"checksum":\#(checksum),"seconds":\#(elapsed),"rows_per_s":\#(Double(count) / elapsed)}"#)
}

func copy(_ db: PostgresConnection, rows: Int, logger: Logger) async throws {
    try await db.query("TRUNCATE bench_copy", logger: logger)
    let clock = ContinuousClock()
    let start = clock.now
    try await db.copyFrom(table: "bench_copy", columns: ["id", "account_id", "memo"], logger: logger) { writer in
        // Rows in text format, sent in buffers of about 64 KiB.
        var buffer = ByteBufferAllocator().buffer(capacity: 72 * 1024)
        for id in 1...rows {
            buffer.writeString("\(id)\t\(id % 100_000)\tpayment \(id)\n")
            if buffer.readableBytes >= 64 * 1024 {
                try await writer.write(buffer)
                buffer.clear()
            }
        }
        if buffer.readableBytes > 0 { try await writer.write(buffer) }
    }
    let elapsed = seconds(clock.now - start)
    var stored = 0
    for try await count in try await db.query("SELECT count(*) FROM bench_copy", logger: logger).decode(Int64.self) {
        stored = Int(count)
    }
    print(#"{"bench":"copy","rows":\#(stored),"seconds":\#(elapsed),"rows_per_s":\#(Double(stored) / elapsed)}"#)
}

let arguments = CommandLine.arguments
guard arguments.count == 4, let count = Int(arguments[3]), count > 0 else {
    FileHandle.standardError.write(Data("usage: nio-peer roundtrip|stream|copy <url> <count>\n".utf8))
    exit(2)
}
var logger = Logger(label: "nio-peer")
logger.logLevel = .error
do {
    let db = try await PostgresConnection.connect(
        configuration: try configuration(arguments[2]), id: 1, logger: logger)
    do {
        switch arguments[1] {
        case "roundtrip": try await roundTrip(db, iterations: count, logger: logger)
        case "stream": try await stream(db, rows: count, logger: logger)
        case "copy": try await copy(db, rows: count, logger: logger)
        default: throw Usage(description: "unknown benchmark \(arguments[1]); roundtrip, stream or copy")
        }
    } catch {
        try? await db.close().get()
        throw error
    }
    try await db.close().get()
} catch {
    FileHandle.standardError.write(Data("nio-peer: error: \(String(reflecting: error))\n".utf8))
    exit(1)
}
