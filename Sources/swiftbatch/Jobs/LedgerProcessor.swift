import Batch

/// A row of `bench_txn`.
struct LedgerTransaction: Sendable {
    var id: Int64
    var accountID: Int64
    var amountCents: Int64
    var currency: String
    var memo: String
}

/// A row of `bench_txn_out`.
struct LedgerEntry: Sendable, Equatable {
    var id: Int64
    var accountID: Int64
    var amountEURCents: Int64
    var feeCents: Int64
    var flagged: Bool
    var memo: String
}

/// A ledger row the processor cannot convert.
struct LedgerError: Error, CustomStringConvertible {
    var id: Int64
    var message: String
    var description: String { "bench_txn id \(id): \(message)" }
}

/// The ledger-etl transformation (docs/BENCHMARKS.md), in exact integer arithmetic:
/// rates are kept in ten-thousandths, and rounding is half away from zero, as PostgreSQL's
/// `round(numeric)` does.
struct LedgerProcessor: ItemProcessor {
    func process(_ row: LedgerTransaction) throws -> LedgerEntry? {
        let rate: Int64
        switch row.currency {
        case "EUR": rate = 10_000
        case "USD": rate = 9_200
        case "GBP": rate = 11_700
        case "JPY": rate = 61
        default:
            throw LedgerError(
                id: row.id,
                message: "unknown currency \"\(row.currency)\" (expected EUR, USD, GBP or JPY); fix the row and restart")
        }
        let euros = Self.divideRoundingHalfAway(row.amountCents * rate, by: 10_000)
        let fee = max(25, Self.divideRoundingHalfAway(abs(euros) * 125, by: 10_000))
        return LedgerEntry(
            id: row.id, accountID: row.accountID, amountEURCents: euros, feeCents: fee,
            flagged: abs(euros) > 1_000_000 || row.memo.hasPrefix("refund"),
            memo: row.memo.uppercased())
    }

    /// `n / d` rounded half away from zero, for a positive `d`.
    static func divideRoundingHalfAway(_ n: Int64, by d: Int64) -> Int64 {
        let quotient = n / d
        let remainder = n % d
        guard remainder.magnitude * 2 >= d.magnitude else { return quotient }
        return n < 0 ? quotient - 1 : quotient + 1
    }
}
