import Batch
import BatchCLI
import BatchPostgres
import PostgresClient

/// One invoice line of the `invoice` table.
struct Invoice: ItemKeyed {
    var id: Int64
    var month: String
    var cents: Int64
    var itemKey: String { "invoice \(id)" }
}

/// A negative amount is bad data: the item is skipped and recorded, the job goes on.
struct NegativeAmount: Error, CustomStringConvertible {
    var id: Int64
    var description: String { "invoice \(id) has a negative amount" }
}

/// Adds 20% VAT (rounded half up, in whole cents); free invoices are filtered out.
struct AddVAT: ItemProcessor {
    func process(_ invoice: Invoice) throws -> Invoice? {
        guard invoice.cents >= 0 else { throw NegativeAmount(id: invoice.id) }
        guard invoice.cents > 0 else { return nil }
        var taxed = invoice
        taxed.cents = (invoice.cents * 120 + 50) / 100
        return taxed
    }
}

/// `billing month=YYYY-MM [demo-rows=N]`: tax one month's invoices into `invoice_out`.
let billing = Job(
    "billing",
    summary: "Add VAT to one month's invoices (invoice -> invoice_out); an example job outside the framework.",
    parameters: [
        .required("month", .string, help: "the month to bill, YYYY-MM"),
        .optional("demo-rows", .long, default: .long(0), identifying: false,
                  help: "first create and fill the invoice table with N demo invoices"),
    ]
) {
    // Demo data, and this month's earlier output removed: a rerun never doubles it.
    TaskletStep("prepare") { _, chunk in
        let db = try chunk.postgresConnection()
        let month = chunk.parameters.string("month") ?? ""
        let demoRows = chunk.parameters.long("demo-rows") ?? 0
        if demoRows > 0 {
            // Every 1000th invoice is negative (skipped), every 250th is free (filtered).
            try db.execute("""
                INSERT INTO invoice
                SELECT g, \(month), CASE WHEN g % 1000 = 0 THEN -1 WHEN g % 250 = 0 THEN 0 ELSE g % 10000 END
                FROM generate_series(1::bigint, \(demoRows)) g
                ON CONFLICT (id) DO NOTHING
                """)
        }
        try db.execute("DELETE FROM invoice_out WHERE month = \(month)")
        return .finished
    }
    ChunkStep("vat", commitInterval: 500, skipPolicy: .skip([NegativeAmount.self], limit: 100)) { scope in
        let month = scope.parameters.string("month") ?? ""
        let reader = PostgresKeysetReader<Invoice>(
            table: "invoice", columns: ["id", "month", "cents"], key: "id", where: "month = \(month)"
        ) { row in
            let (id, month, cents) = try row.decode((Int64, String, Int64).self)
            return Invoice(id: id, month: month, cents: cents)
        }
        let writer = PostgresCopyItemWriter<Invoice>(table: "invoice_out", columns: ["id", "month", "cents"]) {
            invoice, row in
            row.appendField(invoice.id)
            row.appendField(invoice.month)
            row.appendField(invoice.cents)
        }
        return (reader, AddVAT(), writer)
    }
}

/// The application's own tables, created by `billing migrate` after the framework's schema.
/// Applied migrations never change: a new column or index is a new migration at the end.
let migrations = ApplicationMigrations(namespace: "billing", [
    ApplicationMigration("create_invoice", sql: """
        CREATE TABLE IF NOT EXISTS invoice (id bigint PRIMARY KEY, month text NOT NULL, cents bigint NOT NULL)
        """),
    ApplicationMigration("create_invoice_out", sql: """
        CREATE TABLE IF NOT EXISTS invoice_out (id bigint PRIMARY KEY, month text NOT NULL, cents bigint NOT NULL)
        """),
    ApplicationMigration("create_orders", sql: """
        CREATE TABLE IF NOT EXISTS orders (
            order_date date NOT NULL, order_ref text NOT NULL, sku text NOT NULL, quantity bigint NOT NULL,
            PRIMARY KEY (order_date, order_ref))
        """),
    ApplicationMigration("create_orders_priced", sql: """
        CREATE TABLE IF NOT EXISTS orders_priced (
            order_date date NOT NULL, order_ref text NOT NULL, total_cents bigint NOT NULL,
            PRIMARY KEY (order_date, order_ref))
        """),
])

// The command line calls itself after the executable (`billing`): usage, hints and logs say
// `billing migrate`, `billing worker`... Pass `name:` to choose another.
await SwiftBatchCLI.main(jobs: [billing, priceOrders], migrations: migrations)
