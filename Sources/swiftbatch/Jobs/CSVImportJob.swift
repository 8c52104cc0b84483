import Batch
import BatchPostgres
import Foundation
import PostgresClient

extension FlatFileParseError: ItemKeyed {
    public var itemKey: String { "\(path) line \(line)" }
}

/// A ledger row as a CSV file carries it.
struct LedgerCSVRow: Sendable, ItemKeyed {
    var id: Int64
    var accountID: Int64
    var amountCents: Int64
    var currency: String
    var createdAt: String
    var memo: String
    var itemKey: String { "csv id \(id)" }
}

struct CSVFieldError: Error, CustomStringConvertible {
    var description: String
}

/// `csv-import file=PATH [skip-limit=10] [chunk=1000]`: loads a CSV of ledger rows (header
/// `id,account_id,amount_cents,currency,created_at,memo`) into `csv_import`. Malformed lines
/// and ids already present are skipped and recorded in `batch_skipped_item`, up to the limit.
enum CSVImportJob {
    static let job = Job(
        "csv-import",
        summary: "Load a CSV of ledger rows into csv_import, skipping and recording bad lines.",
        parameters: [
            .required("file", .string, help: "path of the CSV file"),
            .optional("skip-limit", .long, default: .long(10), identifying: false, help: "bad lines tolerated"),
            .optional("chunk", .long, default: .long(1000), identifying: false, help: "lines per chunk"),
        ]
    ) {
        TaskletStep("prepare") { _, chunk in
            guard let path = chunk.parameters.string("file"), FileManager.default.isReadableFile(atPath: path) else {
                throw CSVFieldError(description: "cannot read \(chunk.parameters.string("file") ?? "?"): check the file= parameter")
            }
            try chunk.postgresConnection().execute("""
                CREATE TABLE IF NOT EXISTS csv_import(
                    id bigint PRIMARY KEY, account_id bigint NOT NULL, amount_cents bigint NOT NULL,
                    currency char(3) NOT NULL, created_at timestamptz NOT NULL, memo text NOT NULL)
                """)
            return .finished
        }
        ChunkStep(
            "load", commitInterval: 1000, commitIntervalParameter: "chunk",
            skipPolicy: SkipPolicy(limit: 10) { error in
                error is FlatFileParseError
                    || [SQLState.uniqueViolation, .invalidTextRepresentation, "22007", "22008"]
                        .contains((error as? PostgresError)?.sqlState)
            },
            skipLimitParameter: "skip-limit"
        ) { scope in
            let reader = CSVItemReader<LedgerCSVRow>(path: scope.parameters.string("file") ?? "", name: "csv") { record in
                func number(_ column: String) throws -> Int64 {
                    guard let text = record[column], let value = Int64(text) else {
                        throw CSVFieldError(description: "\(column) \"\(record[column] ?? "")\" is not a whole number")
                    }
                    return value
                }
                guard let currency = record["currency"], currency.count == 3 else {
                    throw CSVFieldError(description: "currency must be three letters")
                }
                return LedgerCSVRow(
                    id: try number("id"), accountID: try number("account_id"),
                    amountCents: try number("amount_cents"), currency: currency,
                    createdAt: record["created_at"] ?? "", memo: record["memo"] ?? "")
            }
            let writer = PostgresCopyItemWriter<LedgerCSVRow>(
                table: "csv_import", columns: ["id", "account_id", "amount_cents", "currency", "created_at", "memo"]
            ) { row, copy in
                copy.appendField(row.id)
                copy.appendField(row.accountID)
                copy.appendField(row.amountCents)
                copy.appendField(row.currency)
                copy.appendField(row.createdAt)
                copy.appendField(row.memo)
            }
            return (reader, writer)
        }
    }
}
