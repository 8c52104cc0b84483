#!/usr/bin/env python3
"""The report of scripts/bench.sh: Markdown tables on stdout and every sample as JSON.

Input: bench.sh's results file, one `name=value` line per sample in the order measured (a
figure measured in R rounds has R lines). A figure is printed as `median [min-max]` over its
samples; a ratio is taken per round (the i-th sample of the figure over the i-th sample of its
peer, measured in the same round a few seconds apart) and printed as the median [min-max] of
those ratios. Ratios are SwiftBatch / peer: above 1 is faster for rates, slower for latencies.
"""

import argparse
import json
import platform
import statistics
import subprocess
import sys
import time


def parse_args():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("out")
    p.add_argument("results")
    p.add_argument("--sizes", required=True)
    p.add_argument("--workers", required=True)
    p.add_argument("--repeats", type=int, required=True)
    p.add_argument("--quick", type=int, default=0)
    p.add_argument("--worker-concurrency", type=int, required=True)
    p.add_argument("--client-rows", type=int, required=True)
    p.add_argument("--rt-iterations", type=int, required=True)
    p.add_argument("--nio-skipped", default="")
    p.add_argument("--build-seconds", type=int, default=0)
    p.add_argument("--total-seconds", type=int, default=0)
    p.add_argument("--latency-hosts", type=int, default=0)
    p.add_argument("--latency-grid", type=int, default=0)
    return p.parse_args()


def load(path):
    samples = {}
    with open(path) as f:
        for line in f:
            line = line.strip()
            if not line:
                continue
            key, value = line.split("=", 1)
            samples.setdefault(key, []).append(float(value))
    return samples


def summary(values):
    return {"median": statistics.median(values), "min": min(values), "max": max(values), "n": len(values)}


def machine():
    cpu = "unknown CPU"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    try:
        cores = subprocess.run(["nproc"], capture_output=True, text=True).stdout.strip()
    except OSError:
        cores = "?"
    return f"{platform.node()}, {cores} cores, {cpu}, {platform.system()} {platform.release()}"


class Report:
    def __init__(self, samples):
        self.s = samples
        self.ratios = {}

    def has(self, *keys):
        return all(k in self.s for k in keys)

    def cell(self, key, fmt):
        v = self.s[key]
        m = summary(v)
        if len(v) == 1:
            return fmt.format(m["median"])
        return f"{fmt.format(m['median'])} [{fmt.format(m['min'])}-{fmt.format(m['max'])}]"

    def ratio_values(self, key, peer):
        a, b = self.s[key], self.s[peer]
        n = min(len(a), len(b))
        return [a[i] / b[i] for i in range(n) if b[i]]

    def ratio(self, key, peer):
        values = self.ratio_values(key, peer)
        if not values:
            return "-"
        self.ratios[f"{key}/{peer}"] = summary(values) | {"samples": values}
        m = summary(values)
        if len(values) == 1:
            return f"{m['median']:.2f}x"
        return f"{m['median']:.2f}x [{m['min']:.2f}-{m['max']:.2f}]"

    def target_ratio(self, key, target):
        values = [v / target for v in self.s[key]]
        m = summary(values)
        return f"{m['median']:.2f}x" if len(values) == 1 else f"{m['median']:.2f}x [{m['min']:.2f}-{m['max']:.2f}]"


RATE = "{:,.0f}"
US = "{:.1f}"
MS = "{:.2f}"
MIB = "{:.1f}"


def main():
    a = parse_args()
    s = load(a.results)
    sizes = [int(x) for x in a.sizes.split(",")]
    wcounts = [int(x) for x in a.workers.split(",")]
    main_rows = sizes[0]
    conc = a.worker_concurrency
    r = Report(s)
    lines = []
    out = lines.append

    when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    out(f"SwiftBatch bench.sh{' --quick' if a.quick else ''}, {when}, on {machine()}")
    out(f"{a.repeats} round(s) per figure; each cell is median [min-max] over the rounds; "
        f"ratio = SwiftBatch / peer, taken per round, then median [min-max] "
        f"(above 1: faster for rates, slower for latencies). "
        f"Measuring took {a.total_seconds - a.build_seconds} s (builds {a.build_seconds} s).")
    out("")
    out("| figure | SwiftBatch | peer (same run) | ratio |")
    out("|---|---|---|---|")

    # Client.
    nio = "postgres-nio"
    if r.has("rt_swift_us"):
        it = f"{a.rt_iterations:,}"
        out(f"| round trip, SELECT 1, unprepared (us, p50 of {it}) | {r.cell('rt_swift_us', US)} | pgbench -M extended {r.cell('rt_pgbench_us', US)} | {r.ratio('rt_swift_us', 'rt_pgbench_us')} |")
        if r.has("rt_nio_us"):
            out(f"| the same | {r.cell('rt_swift_us', US)} | {nio} query {r.cell('rt_nio_us', US)} | {r.ratio('rt_swift_us', 'rt_nio_us')} |")
        out(f"| round trip, SELECT 1, prepared (us, p50 of {it}) | {r.cell('rt_swift_prepared_us', US)} | pgbench -M prepared {r.cell('rt_pgbench_prepared_us', US)} | {r.ratio('rt_swift_prepared_us', 'rt_pgbench_prepared_us')} |")
        if r.has("rt_nio_prepared_us"):
            out(f"| the same | {r.cell('rt_swift_prepared_us', US)} | {nio} prepared statement {r.cell('rt_nio_prepared_us', US)} | {r.ratio('rt_swift_prepared_us', 'rt_nio_prepared_us')} |")
    if r.has("read_swift_stream_rows_per_s"):
        n = f"{a.client_rows:,}"
        if r.has("read_nio_rows_per_s"):
            out(f"| read {n} rows decoded, streamed (single-row mode) (rows/s) | {r.cell('read_swift_stream_rows_per_s', RATE)} | {nio} row sequence {r.cell('read_nio_rows_per_s', RATE)} | {r.ratio('read_swift_stream_rows_per_s', 'read_nio_rows_per_s')} |")
            out(f"| read {n} rows decoded, fetched whole (rows/s) | {r.cell('read_swift_whole_rows_per_s', RATE)} | {nio} row sequence {r.cell('read_nio_rows_per_s', RATE)} | {r.ratio('read_swift_whole_rows_per_s', 'read_nio_rows_per_s')} |")
        else:
            out(f"| read {n} rows decoded, streamed (single-row mode) (rows/s) | {r.cell('read_swift_stream_rows_per_s', RATE)} | {nio}: skipped | - |")
            out(f"| read {n} rows decoded, fetched whole (rows/s) | {r.cell('read_swift_whole_rows_per_s', RATE)} | {nio}: skipped | - |")
    if r.has("copy_swift_rows_per_s"):
        n = f"{a.client_rows:,}"
        out(f"| COPY FROM STDIN, {n} narrow rows (rows/s) | {r.cell('copy_swift_rows_per_s', RATE)} | psql COPY from a file {r.cell('copy_psql_rows_per_s', RATE)} | {r.ratio('copy_swift_rows_per_s', 'copy_psql_rows_per_s')} |")
        if r.has("copy_nio_rows_per_s"):
            out(f"| the same | {r.cell('copy_swift_rows_per_s', RATE)} | {nio} copyFrom {r.cell('copy_nio_rows_per_s', RATE)} | {r.ratio('copy_swift_rows_per_s', 'copy_nio_rows_per_s')} |")
    if a.nio_skipped and r.has("rt_swift_us"):
        out(f"| {nio} peer | - | skipped: {a.nio_skipped} | - |")

    # The ledger at the first size.
    pipe, ins = f"pipe_{main_rows}_rows_per_s", f"insert_{main_rows}_rows_per_s"
    n = f"{main_rows:,}"
    if r.has(pipe):
        out(f"| ledger-etl peer: COPY pipe, {n} rows (rows/s) | - | {r.cell(pipe, RATE)} | - |")
        out(f"| ledger-etl peer: INSERT ... SELECT (rows/s) | - | {r.cell(ins, RATE)} | {r.ratio(ins, pipe)} of the pipe |")

        def ledger_row(label, key):
            if r.has(key):
                out(f"| {label} (rows/s) | {r.cell(key, RATE)} | COPY pipe {r.cell(pipe, RATE)} | {r.ratio(key, pipe)} (INSERT ... SELECT: {r.ratio(key, ins)}) |")

        for w in wcounts:
            ledger_row(f"ledger-etl {n} rows, {w} worker(s) x concurrency {conc}", f"etl_{main_rows}_w{w}_rows_per_s")
        for w in (1, 2):
            ledger_row(f"ledger-etl-remote {n} rows, {w} worker(s) x concurrency {conc}", f"remote_{main_rows}_w{w}_rows_per_s")
        for t in (1, 2, 4):
            ledger_row(f"ledger-etl-mt {n} rows, threads={t}", f"mt_{main_rows}_t{t}_rows_per_s")
        ledger_row(f"ledger-etl {n} rows, --local-workers 4", f"local4_{main_rows}_rows_per_s")
        rss = next((f"etl_{main_rows}_w{w}_rss_mib" for w in (2, *wcounts) if r.has(f"etl_{main_rows}_w{w}_rss_mib")), None)
        if rss:
            w = rss.split("_w")[1].split("_")[0]
            out(f"| worker peak RSS, ledger-etl chunk 1000, largest of {w} workers (MiB) | {r.cell(rss, MIB)} | target 24 | {r.target_ratio(rss, 24)} |")

    # The cost of metrics (--only metrics).
    for chunk in (1000, 100):
        on, off = f"metrics_on_{chunk}_rows_per_s", f"metrics_off_{chunk}_rows_per_s"
        if r.has(on, off):
            out(f"| ledger-etl {main_rows:,} rows, 2 workers, chunk {chunk}, metrics on (rows/s) | {r.cell(on, RATE)} | metrics off {r.cell(off, RATE)} | {r.ratio(on, off)} |")

    # Coordination.
    if r.has("noop_partitions"):
        p = int(s["noop_partitions"][0])
        for w in wcounts:
            key = f"noop_w{w}_partitions_per_s"
            out(f"| noop-partitions partitions={p:,}, {w} worker(s) (partitions/s) | {r.cell(key, RATE)} | target 5,000 | {r.target_ratio(key, 5000)} |")
        out(f"| the same, 2 workers with --synchronous-commit (partitions/s) | {r.cell('noop_sync_w2_partitions_per_s', RATE)} | target 3,000 | {r.target_ratio('noop_sync_w2_partitions_per_s', 3000)} |")
        out(f"| await latency, last partition to job end (ms) | p50 {r.cell('await_p50_ms', '{:.1f}')}, p99 {r.cell('await_p99_ms', '{:.1f}')} | target p50 2, p99 10 | - |")
        out(f"| claim with {int(s['claim_history'][0]):,} finished partitions in history (ms, p50) | {r.cell('claim_p50_ms', '{:.3f}')} | target 2 | {r.target_ratio('claim_p50_ms', 2)} |")
        out(f"| launch overhead, a one-tasklet job (ms, whole process) | {r.cell('launch_ms', '{:.0f}')} | - | - |")

    # Latency.
    if r.has("latency_0_rows_per_s"):
        base = "latency_0_rows_per_s"
        delays = sorted(float(k[len("latency_"):-len("_rows_per_s")].replace("_", "."))
                        for k in s if k.startswith("latency_") and k.endswith("_rows_per_s")
                        and k != "latency_direct_rows_per_s")
        for d in delays:
            key = "latency_" + f"{d:g}".replace(".", "_") + "_rows_per_s"
            out(f"| ledger-etl {n} rows on the test bed, {a.latency_hosts} worker hosts x concurrency {conc}, grid {a.latency_grid}, proxy at {d:g} ms one way (rows/s) | {r.cell(key, RATE)} | proxy at 0 ms {r.cell(base, RATE)} | {r.ratio(key, base)} |")
        out(f"| the same, straight to the server, no proxy (rows/s) | {r.cell('latency_direct_rows_per_s', RATE)} | proxy at 0 ms {r.cell(base, RATE)} | {r.ratio('latency_direct_rows_per_s', base)} |")
        out(f"| peak server connections during those runs (pg_stat_activity) | {int(max(s['latency_peak_connections']))} | - | - |")

    # Scaling: how the figures move with more data and more worker processes.
    if any(r.has(f"etl_{size}_w{w}_rows_per_s") for size in sizes for w in wcounts):
        out("")
        out("Scaling, ledger-etl grid 8 chunk 1000: wall-time cost per row by size and worker processes "
            f"(x concurrency {conc}); flat us/row down a column = linear in the data; falling us/row "
            "across worker counts = the work spreads (on 2 cores, expect flat at best).")
        out("")
        out("| rows | workers | ledger-etl rows/s | us/row | us/row vs the first size | COPY pipe us/row | ratio to the pipe | peak RSS (MiB) |")
        out("|---|---|---|---|---|---|---|---|")
        for size in sizes:
            for w in wcounts:
                key = f"etl_{size}_w{w}_rows_per_s"
                if not r.has(key):
                    continue
                s[f"etl_{size}_w{w}_us_per_row"] = [1e6 / v for v in s[key]]
                s[f"pipe_{size}_us_per_row"] = [1e6 / v for v in s[f"pipe_{size}_rows_per_s"]]
                first = f"etl_{sizes[0]}_w{w}_us_per_row"
                flat = f"{statistics.median(s[f'etl_{size}_w{w}_us_per_row']) / statistics.median(s[first]):.2f}x" if first in s else "-"
                rss = f"etl_{size}_w{w}_rss_mib"
                out(f"| {size:,} | {w} | {r.cell(key, RATE)} | {r.cell(f'etl_{size}_w{w}_us_per_row', '{:.2f}')} | {flat} "
                    f"| {r.cell(f'pipe_{size}_us_per_row', '{:.2f}')} | {r.ratio(key, f'pipe_{size}_rows_per_s')} "
                    f"| {r.cell(rss, MIB) if r.has(rss) else '-'} |")
    if r.has("noop_partitions"):
        p = int(s["noop_partitions"][0])
        out("")
        out(f"Scaling, coordination: noop-partitions partitions={p:,}, wall-time cost per partition by worker "
            f"processes (x concurrency {conc}).")
        out("")
        out("| workers | partitions/s | ms per partition | ms per partition x slots |")
        out("|---|---|---|---|")
        for w in wcounts:
            key = f"noop_w{w}_partitions_per_s"
            s[f"noop_w{w}_ms_per_partition"] = [1e3 / v for v in s[key]]
            s[f"noop_w{w}_slot_ms_per_partition"] = [1e3 * w * conc / v for v in s[key]]
            out(f"| {w} | {r.cell(key, RATE)} | {r.cell(f'noop_w{w}_ms_per_partition', '{:.3f}')} | {r.cell(f'noop_w{w}_slot_ms_per_partition', '{:.2f}')} |")

    print("\n".join(lines))
    report = {
        "date": when,
        "machine": machine(),
        "sizes": sizes,
        "workers": wcounts,
        "repeats": a.repeats,
        "quick": bool(a.quick),
        "worker_concurrency": conc,
        "client_rows": a.client_rows,
        "roundtrip_iterations": a.rt_iterations,
        "postgres_nio_skipped": a.nio_skipped or None,
        "build_seconds": a.build_seconds,
        "total_seconds": a.total_seconds,
        "figures": {k: summary(v) | {"samples": v} for k, v in s.items()},
        "ratios": r.ratios,
        "table": lines,
    }
    with open(a.out, "w") as f:
        json.dump(report, f, indent=2)


if __name__ == "__main__":
    sys.exit(main())
