import Batch
import BatchPostgres
import PostgresClient

/// One line of the `orders` table, keyed by `(order_date, order_ref)`: a date, then text.
struct Order: Sendable, ItemKeyed {
    var date: String
    var ref: String
    var sku: String
    var quantity: Int64
    var itemKey: String { "order \(date)/\(ref)" }
}

/// An order with its price, for `orders_priced`.
struct PricedOrder: Sendable {
    var date: String
    var ref: String
    var totalCents: Int64
}

/// The pricing service could not quote a SKU.
struct PricingUnavailable: Error, CustomStringConvertible {
    var sku: String
    var description: String { "the pricing service has no price for \(sku)" }
}

/// A stand-in for a remote pricing service (an HTTP API, say): every quote takes `latency`, as
/// a network call would, and awaits instead of blocking. `sku-N` costs N euros a unit.
struct PricingService: Sendable {
    var latency: Duration
    var unavailableSKU: String?

    func quote(sku: String, quantity: Int64) async throws -> Int64 {
        if latency > .zero { try await Task.sleep(for: latency) }
        guard sku != unavailableSKU, sku.hasPrefix("sku-"), let unit = Int64(sku.dropFirst(4)) else {
            throw PricingUnavailable(sku: sku)
        }
        return unit * 100 * quantity
    }
}

/// Prices each order with an awaited call to the service: up to a chunk's worth at once.
struct Pricer: AsyncItemProcessor {
    let service: PricingService

    func process(_ order: Order) async throws -> PricedOrder? {
        PricedOrder(date: order.date, ref: order.ref, totalCents: try await service.quote(sku: order.sku, quantity: order.quantity))
    }
}

/// `price-orders from=YYYY-MM-DD to=YYYY-MM-DD [days=1] [demo-orders=N] [quote-ms=M] [unpriced-sku=S]`:
/// prices the orders of a date range into `orders_priced`, one partition per `days` days run by
/// `billing worker` daemons (or `--local-workers N`). Each chunk's orders are priced by awaited
/// calls to the (fake) pricing service, outside the chunk's transaction.
let priceOrders = Job(
    "price-orders",
    summary: "Price a date range of orders with an async (fake) pricing service, partitioned by date.",
    parameters: [
        .required("from", .string, help: "the first order date, YYYY-MM-DD"),
        .required("to", .string, help: "the last order date, YYYY-MM-DD"),
        .optional("days", .long, default: .long(1), identifying: false, help: "days per partition"),
        .optional("demo-orders", .long, default: .long(0), identifying: false,
                  help: "first create N demo orders for every day of the range"),
        .optional("quote-ms", .long, default: .long(0), identifying: false,
                  help: "how long each call to the pricing service takes, in milliseconds"),
        .optional("unpriced-sku", .string, default: .string(""), identifying: false,
                  help: "a SKU the pricing service cannot price (its orders fail their partition)"),
    ]
) {
    TaskletStep("prepare") { _, chunk in
        let db = try chunk.postgresConnection()
        let (from, to) = (chunk.parameters.string("from") ?? "", chunk.parameters.string("to") ?? "")
        let demo = chunk.parameters.long("demo-orders") ?? 0
        if demo > 0 {
            try db.execute("""
                INSERT INTO orders (order_date, order_ref, sku, quantity)
                SELECT d::date, 'ord-' || lpad(n::text, 6, '0'), 'sku-' || (n % 7 + 1), n % 5 + 1
                FROM generate_series(\(from)::date, \(to)::date, interval '1 day') d, generate_series(1, \(demo)) n
                ON CONFLICT DO NOTHING
                """)
        }
        try db.execute("DELETE FROM orders_priced WHERE order_date BETWEEN \(from)::date AND \(to)::date")
        return .finished
    }
    PartitionStep(
        "price", maxAttempts: 3, partitioner: DateRangePartitioner(from: "from", to: "to", days: 1, daysParameter: "days"),
        workerStep: priceRange)
}

/// One partition: the orders of its days, in key order, 50 a chunk.
let priceRange = ChunkStep("price-range", commitInterval: 50) { scope in
    let reader = PostgresKeysetReader<Order>(
        table: "orders", columns: ["order_date", "order_ref", "sku", "quantity"], keyColumns: ["order_date", "order_ref"],
        range: try Partition.keys(in: scope.stepContext), pageSize: 50, name: "orders"
    ) { row in
        let (date, ref, sku, quantity) = try row.decode((String, String, String, Int64).self)
        return Order(date: date, ref: ref, sku: sku, quantity: quantity)
    }
    let unpriced = scope.parameters.string("unpriced-sku") ?? ""
    let service = PricingService(
        latency: .milliseconds(scope.parameters.long("quote-ms") ?? 0), unavailableSKU: unpriced.isEmpty ? nil : unpriced)
    let writer = PostgresInsertItemWriter<PricedOrder>(table: "orders_priced", columns: ["order_date", "order_ref", "total_cents"]) {
        priced, values in
        values.append(priced.date)
        values.append(priced.ref)
        values.append(priced.totalCents)
    }
    // Every order of a chunk is awaited at once; no call may take over a minute.
    return (reader, Pricer(service: service).inChunks(maxInFlight: 50, timeout: .seconds(60)), writer)
}
