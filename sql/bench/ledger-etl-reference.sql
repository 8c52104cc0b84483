-- The ledger-etl transformation done by PostgreSQL alone (the server-side peer; see docs/BENCHMARKS.md).
INSERT INTO bench_txn_out
SELECT id, account_id, a, greatest(25, round(abs(a) * 0.0125))::bigint,
       abs(a) > 1000000 OR memo LIKE 'refund%', upper(memo)
FROM (SELECT id, account_id, memo,
             round(amount_cents * CASE currency WHEN 'EUR' THEN 1.0 WHEN 'USD' THEN 0.92
                                                WHEN 'GBP' THEN 1.17 ELSE 0.0061 END)::bigint AS a
      FROM bench_txn) s;
