// Micro-benchmarks of the PostgreSQL client, printed as JSON lines for scripts/bench.sh.
//
//   swiftbatch-bench roundtrip <url> <iterations>   trivial query, unprepared and prepared
//   swiftbatch-bench copy <url> <rows>              COPY FROM STDIN of narrow rows into bench_copy

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
guard arguments.count == 4, let count = Int(arguments[3]) else {
    FileHandle.standardError.write(Data("usage: swiftbatch-bench roundtrip|copy <url> <count>\n".utf8))
    exit(2)
}
do {
    switch arguments[1] {
    case "roundtrip": try roundTrip(arguments[2], iterations: count)
    case "copy": try copyRows(arguments[2], rows: count)
    default:
        FileHandle.standardError.write(Data("unknown benchmark \(arguments[1])\n".utf8))
        exit(2)
    }
} catch {
    FileHandle.standardError.write(Data("error: \(error)\n".utf8))
    exit(1)
}
