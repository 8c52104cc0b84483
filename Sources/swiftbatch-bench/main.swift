// Micro-benchmarks of the PostgreSQL client, printed as JSON lines for scripts/bench.sh.
//
//   swiftbatch-bench roundtrip <url> <iterations>   trivial query, unprepared and prepared
//   swiftbatch-bench stream <url> <rows>            a generated result of narrow rows, decoded row by
//                                                   row as it arrives (single-row mode)
//   swiftbatch-bench query <url> <rows>             the same result fetched whole, then decoded
//   swiftbatch-bench copy <url> <rows>              COPY FROM STDIN of narrow rows into bench_copy
//
// scripts/bench.sh runs the same commands of the postgres-nio peer (bench/peers/postgres-nio)
// beside these, on the same server and the same queries.

import Foundation
import PostgresClient

func median(_ values: [Double]) -> Double {
    let sorted = values.sorted()
    return sorted[sorted.count / 2]
}

func percentile(_ values: [Double], _ p: Double) -> Double {
    let sorted = values.sorted()
    return sorted[min(sorted.count - 1, Int(Double(sorted.count) * p))]
}

func elapsed(_ body: () throws -> Void) rethrows -> Double {
    let clock = ContinuousClock()
    let duration = try clock.measure(body)
    let (seconds, attoseconds) = duration.components
    return Double(seconds) + Double(attoseconds) / 1e18
}

func roundTrip(_ url: String, iterations: Int) throws {
    let db = try PostgresConnection(connectionString: url)
    defer { db.close() }
    for prepared in [false, true] {
        var samples: [Double] = []
        samples.reserveCapacity(iterations)
        for _ in 0..<100 { _ = try db.query("SELECT 1", prepared: prepared) }  // warm up
        for _ in 0..<iterations {
            samples.append(try elapsed { _ = try db.query("SELECT 1", prepared: prepared) } * 1e6)
        }
        print(
            #"{"bench":"roundtrip","prepared":\#(prepared),"iterations":\#(iterations),"p50_us":\#(median(samples)),"p99_us":\#(percentile(samples, 0.99))}"#
        )
    }
}

/// The query both readers run (and the postgres-nio peer's `stream`): N narrow rows made by the
/// server, so the figure is the client's cost of receiving and decoding them.
func narrowRows(_ rows: Int) -> PostgresQuery {
    PostgresQuery(unsafeSQL: "SELECT g, g % 100000, 'payment ' || g FROM generate_series(1::bigint, \(rows)) g")
}

func streamRows(_ url: String, rows: Int, whole: Bool) throws {
    let db = try PostgresConnection(connectionString: url)
    defer { db.close() }
    var count = 0
    var checksum: Int64 = 0
    func consume(_ row: PostgresRow) throws {
        let (id, account, memo) = try row.decode((Int64, Int64, String).self)
        checksum &+= id &+ account &+ Int64(memo.utf8.count)
        count += 1
    }
    let seconds = try elapsed {
        if whole {
            let result = try db.query(narrowRows(rows))
            for index in 0..<result.count { try consume(result[index]) }
        } else {
            try db.stream(narrowRows(rows), consume)
        }
    }
    print(
        #"{"bench":"\#(whole ? "query" : "stream")","rows":\#(count),"checksum":\#(checksum),"seconds":\#(seconds),"rows_per_s":\#(Double(count) / seconds)}"#
    )
}

func copyRows(_ url: String, rows: Int) throws {
    let db = try PostgresConnection(connectionString: url)
    defer { db.close() }
    try db.execute("TRUNCATE bench_copy")
    var stored = 0
    let seconds = try elapsed {
        stored = try db.copyFrom("COPY bench_copy (id, account_id, memo) FROM STDIN") { writer in
            for id in 1...rows {
                writer.appendField(Int64(id))
                writer.appendField(Int64(id % 100_000))
                writer.appendField("payment \(id)")
                try writer.endRow()
            }
        }
    }
    print(#"{"bench":"copy","rows":\#(stored),"seconds":\#(seconds),"rows_per_s":\#(Double(stored) / seconds)}"#)
}

let arguments = CommandLine.arguments
guard arguments.count == 4, let count = Int(arguments[3]), count > 0 else {
    FileHandle.standardError.write(Data("usage: swiftbatch-bench roundtrip|stream|query|copy <url> <count>\n".utf8))
    exit(2)
}
do {
    switch arguments[1] {
    case "roundtrip": try roundTrip(arguments[2], iterations: count)
    case "stream": try streamRows(arguments[2], rows: count, whole: false)
    case "query": try streamRows(arguments[2], rows: count, whole: true)
    case "copy": try copyRows(arguments[2], rows: count)
    default:
        FileHandle.standardError.write(Data("unknown benchmark \(arguments[1])\n".utf8))
        exit(2)
    }
} catch {
    FileHandle.standardError.write(Data("error: \(error)\n".utf8))
    exit(1)
}
