-- Usage: psql "$DATABASE_URL" -v N=1000000 -f sql/bench/ledger-etl-setup.sql
DROP TABLE IF EXISTS bench_txn, bench_txn_out;
CREATE TABLE bench_txn(
    id bigint PRIMARY KEY, account_id bigint NOT NULL, amount_cents bigint NOT NULL,
    currency char(3) NOT NULL, created_at timestamptz NOT NULL, memo text NOT NULL);
INSERT INTO bench_txn
  SELECT g, (g * 7919) % 100000, ((g * 104729) % 5000000) - 100000,
         (ARRAY['EUR','USD','GBP','JPY'])[1 + (g % 4)],
         timestamptz '2026-01-01' + (g % 31536000) * interval '1 second',
         CASE WHEN g % 97 = 0 THEN 'refund ' || g ELSE 'payment ' || g END
  FROM generate_series(1::bigint, :N) g;
CREATE TABLE bench_txn_out(
    id bigint PRIMARY KEY, account_id bigint NOT NULL, amount_eur_cents bigint NOT NULL,
    fee_cents bigint NOT NULL, flagged boolean NOT NULL, memo text NOT NULL);
VACUUM ANALYZE bench_txn;
