#!/usr/bin/env python3
"""Writes docs/benchmarks.md from the results of scripts/bench.sh (`make bench`).

    bench_report.py RESULTS.jsonl [-o docs/benchmarks.md]

RESULTS.jsonl holds one JSON object per line, told apart by "kind": meta, seed, check, run
(wrk at peak, wrk paced to half the peak; writes at peak once per connection count), locks
(pg_stat_activity sampled during a PostgreSQL write run), scans (PostgreSQL seq/index scans
counted during a scenario), plan (EXPLAIN output) and end. The machine is described from this machine
(/proc), where the benchmark has just run. Standard library only.
"""

import argparse
import datetime
import json
import os
import platform
import sys

# Operations in report order: (key, label, read?).
OPERATIONS = [
    ("get", "get one application", True),
    ("list_first", "list my applications, first page", True),
    ("list_deep", "list my applications, deep cursor page", True),
    ("queue", "officer's queue page", True),
]
CEILING_LABEL = "ceiling: bare actix-web + diesel, one row by primary key"
# Throughput targets as a share of the ceiling.
RATIO_TARGETS = {"get": 0.50, "list_first": 0.30}
P99_HALF_TARGET_MS = 25.0
# Writes: (key, label); the write ceiling first.
WRITES = [
    ("ceiling_write", "write ceiling: bare actix-web + diesel, a row and an audit-shaped row in one transaction"),
    ("create", "create a draft"),
    ("submit", "submit a draft"),
    ("comment", "comment on an application"),
    ("sign", "sign a draft (one-time code)"),
    ("ceiling_write_again", "write ceiling again, after the writes (drift check)"),
]
# The write ceiling's runs: the writes' ratios are over the mean of their best peaks.
WRITE_CEILINGS = ("ceiling_write", "ceiling_write_again")
# Write throughput targets as a share of the write ceiling, on PostgreSQL only.
WRITE_RATIO_TARGETS = {"create": 0.30, "submit": 0.30}
WRITE_P99_HALF_TARGET_MS = 50.0
LOCK_SHARE_TARGET = 0.05
BACKEND_NAMES = {"sqlite": "SQLite", "postgres": "PostgreSQL"}


def machine():
    model = "unknown"
    try:
        for line in open("/proc/cpuinfo", encoding="utf-8"):
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    ram = "unknown"
    try:
        for line in open("/proc/meminfo", encoding="utf-8"):
            if line.startswith("MemTotal:"):
                ram = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
                break
    except OSError:
        pass
    return {
        "cores": os.cpu_count(),
        "model": model,
        "ram": ram,
        "kernel": f"{platform.system()} {platform.release()}",
    }


def ms(value):
    return "—" if value is None else f"{value:.2f} ms"


def rps(value):
    return "—" if value is None else f"{value:,.0f}"


def statuses_text(figures):
    statuses = figures.get("statuses") or {}
    if statuses:
        return ", ".join(f"{code}×{count:,}" for code, count in sorted(statuses.items()))
    failed = (figures.get("errors") or {}).get("status", 0)
    ok = figures.get("requests", 0) - failed
    return f"2xx×{ok:,}" + (f", ≥400×{failed:,}" if failed else "")


def successes(figures):
    """Answers in 2xx; wrk without response() only counts answers >= 400 (as errors)."""
    statuses = figures.get("statuses") or {}
    if statuses:
        return sum(n for code, n in statuses.items() if str(code).startswith("2"))
    return figures.get("requests", 0) - (figures.get("errors") or {}).get("status", 0)


def transport_errors(figures):
    e = figures.get("errors")
    if isinstance(e, dict):
        return sum(v for k, v in e.items() if k != "status")
    return e or 0


class Results:
    def __init__(self, path):
        self.records = [json.loads(line) for line in open(path, encoding="utf-8", errors="replace") if line.strip()]
        self.meta = self.one("meta") or {}
        self.end = self.one("end") or {}
        self.backends = []
        for r in self.records:
            if r.get("backend") and r["backend"] not in self.backends:
                self.backends.append(r["backend"])

    def one(self, kind, **match):
        for r in self.records:
            if r["kind"] == kind and all(r.get(k) == v for k, v in match.items()):
                return r
        return None

    def all(self, kind, **match):
        return [r for r in self.records if r["kind"] == kind and all(r.get(k) == v for k, v in match.items())]

    def run(self, backend, op, mode):
        r = self.one("run", backend=backend, op=op, mode=mode)
        return r["figures"] if r else None

    def peaks(self, backend, op):
        """The peak runs of a write, one per connection count: [(connections, figures)]."""
        return sorted((r["connections"], r["figures"]) for r in self.all("run", backend=backend, op=op, mode="peak"))

    def best_peak(self, backend, op):
        peaks = self.peaks(backend, op)
        return max((f["rps"] for _, f in peaks), default=None)

    def lock_share(self, backend, op):
        """(lock samples, backend samples, top waiting queries) over all runs of a write."""
        records = self.all("locks", backend=backend, op=op)
        if not records:
            return None
        waiting = sum(r["locks"]["lock_samples"] for r in records)
        backends = sum(r["locks"]["backend_samples"] for r in records)
        top = {}
        for r in records:
            for query, n in r["locks"]["top"]:
                top[query] = top.get(query, 0) + n
        return waiting, backends, sorted(top.items(), key=lambda kv: -kv[1])[:3]

    def unexpected(self):
        """Runs whose answers were not all the expected status: [(backend, op, mode, connections, text)]."""
        out = []
        for r in self.all("run"):
            expected = r.get("expected")
            if not expected:
                continue
            f = r["figures"]
            other = {c: n for c, n in (f.get("statuses") or {}).items() if c != expected}
            unanswered = transport_errors(f)
            if other or unanswered or f.get("ids_reused"):
                parts = [f"{c}×{n:,}" for c, n in sorted(other.items())]
                if unanswered:
                    parts.append(f"{unanswered} unanswered")
                if f.get("ids_reused"):
                    parts.append(f"{f['ids_reused']} prepared lines sent again")
                samples = list((f.get("failed_samples") or {}).values())
                if samples:
                    parts.append("first: `" + samples[0][:160].replace("`", "'") + "`")
                out.append((r["backend"], r["op"], r["mode"], r.get("connections"), f"expected {expected}; " + ", ".join(parts)))
        return out

    def ceiling(self, backend):
        """Mean peak throughput of the ceiling runs (before and after the reads)."""
        peaks = [f["rps"] for f in (self.run(backend, "ceiling", "peak"), self.run(backend, "ceiling_again", "peak")) if f]
        return sum(peaks) / len(peaks) if peaks else None

    def write_ceiling(self, backend):
        """Mean of the write ceiling's best peaks (before and after the writes)."""
        peaks = [p for p in (self.best_peak(backend, op) for op in WRITE_CEILINGS) if p]
        return sum(peaks) / len(peaks) if peaks else None


def backend_section(res, backend, lines, verdicts):
    name = BACKEND_NAMES.get(backend, backend)
    ceiling = res.ceiling(backend)
    lines.append(f"### {name}")
    lines.append("")
    seed = res.one("seed", backend=backend)
    if seed:
        c = seed.get("counts", {})
        lines.append(
            f"Seeded in {seed['seconds']} s: {c.get('accounts', 0):,} accounts, {c.get('applications', 0):,} applications, "
            f"{c.get('application_history', 0):,} history rows"
            + (f", {c['signatures']:,} signatures" if "signatures" in c else "")
            + (
                f", {c['events']:,} live events, {c['notifications']:,} notices, {c.get('outbox', 0):,} e-mails."
                if "events" in c
                else "."
            )
        )
        lines.append("")
    lines.append(
        "| operation | req/s | p50 | p99 | ratio to ceiling | p99 at half peak (req/s achieved) | target met? "
        "| answers at peak | other load, cores (peak / half) |"
    )
    lines.append("|---|---:|---:|---:|---:|---:|---|---|---|")

    def other_load(op):
        out = []
        for mode in ("peak", "half"):
            r = res.one("run", backend=backend, op=op, mode=mode)
            if r and r.get("cpu"):
                out.append(f"{r['cpu']['other_cores']:.2f}")
        return " / ".join(out) or "—"

    for op, label in (
        ("ceiling", CEILING_LABEL),
        ("ceiling_again", "ceiling again, after the reads (drift check)"),
        ("health", "diagnostic: `GET /health` on the server (its middleware; no auth, no database)"),
    ):
        f = res.run(backend, op, "peak")
        if not f:
            continue
        half = res.run(backend, op, "half")
        half_text = f"{ms(half['p99_ms'])} ({rps(half['rps'])})" if half else "—"
        lines.append(
            f"| {label} | {rps(f['rps'])} | {ms(f['p50_ms'])} | {ms(f['p99_ms'])} | "
            f"{f['rps'] / ceiling:.2f} | {half_text} | {'(reference)' if op != 'health' else '(no target)'} "
            f"| {statuses_text(f)} | {other_load(op)} |"
        )
    for op, label, read in OPERATIONS:
        f = res.run(backend, op, "peak")
        if not f:
            lines.append(f"| {label} | not measured | | | | | | | |")
            continue
        ratio = f["rps"] / ceiling if ceiling else None
        half = res.run(backend, op, "half")
        checks = []
        if op in RATIO_TARGETS and ratio is not None:
            ok = ratio >= RATIO_TARGETS[op]
            checks.append(f"ratio ≥ {RATIO_TARGETS[op]:.2f}: {'yes' if ok else '**no**'}")
            verdicts.append((name, f"{label}: throughput ≥ {RATIO_TARGETS[op]:.0%} of the ceiling", f"{ratio:.0%}", ok))
        if read and half:
            ok = half.get("p99_ms", 1e9) < P99_HALF_TARGET_MS and successes(half) == half.get("requests")
            checks.append(f"p99 at half peak < {P99_HALF_TARGET_MS:.0f} ms: {'yes' if ok else '**no**'}")
            verdicts.append((name, f"{label}: p99 < {P99_HALF_TARGET_MS:.0f} ms at half peak", ms(half.get("p99_ms")), ok))
        ok_share = successes(f) / f["requests"] if f["requests"] else 0
        label_text = label
        if ok_share < 1:
            if op == "submit" and successes(f) == 0:
                label_text += " — **validation-rejected path** (no 2xx answer)"
            else:
                label_text += f" — {ok_share:.1%} 2xx"
            checks.append(f"2xx only: {rps(successes(f) / f['seconds'])} req/s")
        if transport_errors(f):
            checks.append(f"{transport_errors(f)} socket errors/timeouts")
        if f.get("ids_reused"):
            checks.append(f"ran out of drafts: {f['ids_reused']} sent twice")
        half_text = f"{ms(half.get('p99_ms'))} ({rps(half['rps'])})" if half else "— (write)"
        lines.append(
            f"| {label_text} | {rps(f['rps'])} | {ms(f['p50_ms'])} | {ms(f['p99_ms'])} | "
            f"{'—' if ratio is None else f'{ratio:.2f}'} | {half_text} | {'; '.join(checks) or '(no target)'} "
            f"| {statuses_text(f)} | {other_load(op)} |"
        )
    lines.append("")
    write_section(res, backend, lines, verdicts)
    runs = res.all("run", backend=backend)
    waits = [r.get("quiet_wait", 0) for r in runs]
    others = [r["cpu"]["other_cores"] for r in runs if r.get("cpu")]
    if others:
        lines.append(
            f"CPU used by other processes (not the server, the ceiling, PostgreSQL or wrk) during the runs: "
            f"{min(others):.2f} to {max(others):.2f} cores of 2, mean {sum(others) / len(others):.2f}; "
            f"the run waited {sum(waits):.0f} s in all for the machine to quieten before runs."
        )
        lines.append("")


def write_section(res, backend, lines, verdicts):
    name = BACKEND_NAMES.get(backend, backend)
    if not res.peaks(backend, "ceiling_write"):
        return
    ceiling = res.write_ceiling(backend)
    counts = sorted({c for op, _ in WRITES for c, _ in res.peaks(backend, op)})
    lines.append(f"#### {name}: writes")
    lines.append("")
    head = "| operation | " + " | ".join(f"req/s at {c} (p99)" for c in counts)
    head += " | best / write ceiling | p99 at half peak (req/s achieved) | lock-waiting backend samples | target met? |"
    lines.append(head)
    lines.append("|---|" + "---:|" * len(counts) + "---:|---:|---:|---|")
    for op, label in WRITES:
        peaks = dict(res.peaks(backend, op))
        if not peaks:
            lines.append(f"| {label} | not measured |" + " |" * (len(counts) + 3))
            continue
        cells = []
        for c in counts:
            f = peaks.get(c)
            cells.append("—" if not f else f"{rps(f['rps'])} ({ms(f['p99_ms'])})")
        best = max(f["rps"] for f in peaks.values())
        ratio = best / ceiling if ceiling else None
        half = res.run(backend, op, "half")
        checks = []
        if op in WRITE_RATIO_TARGETS and backend == "postgres" and ratio is not None:
            ok = ratio >= WRITE_RATIO_TARGETS[op]
            checks.append(f"ratio ≥ {WRITE_RATIO_TARGETS[op]:.2f}: {'yes' if ok else '**no**'}")
            verdicts.append((name, f"{label}: throughput ≥ {WRITE_RATIO_TARGETS[op]:.0%} of the write ceiling", f"{ratio:.0%}", ok))
        if op not in WRITE_CEILINGS and half:
            ok = half.get("p99_ms", 1e9) < WRITE_P99_HALF_TARGET_MS
            checks.append(f"p99 at half peak < {WRITE_P99_HALF_TARGET_MS:.0f} ms: {'yes' if ok else '**no**'}")
            verdicts.append((name, f"{label}: p99 < {WRITE_P99_HALF_TARGET_MS:.0f} ms at half peak", ms(half.get("p99_ms")), ok))
        locks = res.lock_share(backend, op)
        lock_text = "—"
        if locks:
            waiting, backends, _ = locks
            share = waiting / backends if backends else 0.0
            lock_text = f"{share:.1%} ({waiting:,} of {backends:,})"
            if op not in WRITE_CEILINGS:
                ok = share < LOCK_SHARE_TARGET
                checks.append(f"lock waits < {LOCK_SHARE_TARGET:.0%}: {'yes' if ok else '**no**'}")
                verdicts.append((name, f"{label}: backend samples waiting on a lock < {LOCK_SHARE_TARGET:.0%}", f"{share:.1%}", ok))
        half_text = f"{ms(half.get('p99_ms'))} ({rps(half['rps'])})" if half else "—"
        lines.append(
            f"| {label} | " + " | ".join(cells) + f" | {'—' if ratio is None else f'{ratio:.2f}'} | {half_text} | {lock_text} "
            f"| {'; '.join(checks) or '(reference)'} |"
        )
    lines.append("")
    waits = [(op, res.lock_share(backend, op)) for op, _ in WRITES]
    waits = [(op, l) for op, l in waits if l and l[2]]
    if waits:
        lines.append("Queries most often found waiting on a lock (wait event, query; samples over all runs of the write):")
        lines.append("")
        for op, (_, _, top) in waits:
            for query, n in top:
                lines.append(f"- {op}: {n:,} × `{query[:220]}`")
        lines.append("")


def plans_section(res, lines, verdicts):
    for backend in res.backends:
        plans = res.all("plan", backend=backend)
        if not plans:
            continue
        name = BACKEND_NAMES.get(backend, backend)
        scans = [p["name"] for p in plans if p.get("seq_scan")]
        if backend == "postgres":
            lines.append("### PostgreSQL: `EXPLAIN (ANALYZE, BUFFERS)`")
            lines.append("")
            lines.append("After `ANALYZE`, on the database the run used, between the read and the write scenarios.")
        else:
            lines.append("### SQLite: `EXPLAIN QUERY PLAN`")
            lines.append("")
            lines.append(
                "The same queries on the SQLite file the run used, between the read and the write scenarios "
                "(no `ANALYZE`: the application does not run it)."
            )
        lines.append("")
        if backend == "postgres":
            summary = "**Seq Scan: none** in these plans." if not scans else f"**Seq Scan in: {', '.join(scans)}.**"
        else:
            summary = (
                "**Full scans (`SCAN`): none**: every query is a `SEARCH` through an index."
                if not scans else f"**Full scans (`SCAN`) in: {', '.join(scans)}.**"
            )
        lines.append(summary)
        verdicts.append((name, "no table scan in the list, queue, get-one and signing-code plans", "none" if not scans else ", ".join(scans), not scans))
        lines.append("")
        for p in plans:
            lines.append(f"#### {p['name']}")
            lines.append("")
            lines.append("```sql")
            lines.append(p["sql"])
            lines.append("```")
            lines.append("")
            lines.append("```")
            lines.append(p["plan"])
            lines.append("```")
            lines.append("")
    scan_records = res.all("scans", backend="postgres")
    if scan_records:
        lines.append("### PostgreSQL: scans counted while each scenario ran")
        lines.append("")
        lines.append(
            "`pg_stat_user_tables` before and after each scenario (peak and half-peak runs together): every query "
            "the server ran, including authentication and the background jobs, not only the four above (the "
            "benchmark's own queries that prepare a write run's plan are left out). Tables "
            "with no scan in a scenario are left out. PostgreSQL publishes these counters up to a second late, so "
            "a few counts can land in the next scenario."
        )
        lines.append("")
        lines.append("| scenario | table | live rows (start → end) | seq scans | index scans |")
        lines.append("|---|---|---:|---:|---:|")
        big_seq, grown = [], []
        for r in scan_records:
            for table, t in sorted(r["tables"].items()):
                before = t.get("rows_before", t["rows"])
                rows_text = f"{t['rows']:,}" if before == t["rows"] else f"{before:,} → {t['rows']:,}"
                lines.append(f"| {r['op']} | {table} | {rows_text} | {t['seq_scan']:,} | {t['idx_scan']:,} |")
                if t["seq_scan"] and before >= 1000:
                    big_seq.append(f"{table} in {r['op']}")
                elif t["seq_scan"] and t["rows"] >= 1000:
                    grown.append(f"{table} in {r['op']}")
        lines.append("")
        if big_seq:
            lines.append(f"**Sequential scans of tables that had 1,000 rows or more: {', '.join(big_seq)}.**")
        else:
            lines.append(
                "**No sequential scan of a table that had 1,000 rows or more.** The sequential scans above are of "
                "tables of a handful of rows (the two benchmark sessions, the catalog's services and agencies, "
                "counters, the audit chain's head), where PostgreSQL reads the one page rather than an index."
            )
        if grown:
            lines.append("")
            lines.append(
                f"Tables that were empty or nearly so when the scenario began and grew during it: {', '.join(grown)}. "
                "Their statistics still described an empty table (the last `ANALYZE` ran before the writes), so "
                "PostgreSQL chose sequential scans for some queries on them until the statistics caught up; "
                "autovacuum's `ANALYZE` fixes that on a live server."
            )
        lines.append("")
        verdicts.append((
            "PostgreSQL", "no sequential scan of a large table while the scenarios ran (counters)",
            "none" if not big_seq else ", ".join(big_seq), not big_seq,
        ))


def report(res):
    meta, end = res.meta, res.end
    m = machine()
    started = datetime.datetime.fromtimestamp(meta.get("started", 0), datetime.timezone.utc)
    lines = ["# Benchmarks", ""]
    lines.append(
        "Generated by `make bench` (`scripts/bench.sh`, then `scripts/bench_report.py`); do not edit by hand. "
        "Raw wrk outputs of the last run are in `target/bench/raw/`."
    )
    lines.append("")
    lines.append("## Run")
    lines.append("")
    lines.append("| | |")
    lines.append("|---|---|")
    lines.append(f"| date | {started:%Y-%m-%d %H:%M} UTC |")
    commit = meta.get("commit", "unknown") + (" (with uncommitted changes)" if meta.get("dirty") else "")
    lines.append(f"| commit | `{commit}` |")
    lines.append(f"| command | `{meta.get('command', '?')}` |")
    lines.append(f"| machine | {m['cores']} cores, {m['model']}, {m['ram']} RAM, {m['kernel']} |")
    lines.append(
        f"| software | PostgreSQL {meta.get('postgres_version', '?')}, SQLite {meta.get('sqlite_version', '?')} "
        f"(Python's; the server's diesel links its own), {meta.get('wrk_version', 'wrk')} |"
    )
    lines.append(
        f"| volume | {meta.get('citizens', 0):,} citizens, {meta.get('applications', 0):,} applications with their history, "
        f"plus {meta.get('drafts', 0):,} drafts of the heavy citizen (who owns every 20th application); "
        "on PostgreSQL also a live event per history entry, and a notice with its sent e-mail per change after creation "
        "(seeded rows per table: see each backend's section) |"
    )
    others = [r["cpu"]["other_cores"] for r in res.all("run") if r.get("cpu")]
    if others:
        lines.append(
            f"| other work on the machine | {sum(others) / len(others):.2f} cores of 2 on average during the runs, "
            f"at most {max(others):.2f} (e.g. compiles; see each backend's table) |"
        )
    if end.get("seconds"):
        lines.append(f"| duration | {end['seconds'] // 60} min {end['seconds'] % 60} s for the HTTP benchmark (both backends, seeding included) |")
    lines.append("")

    verdicts = []
    body = []
    body.append("## Results")
    body.append("")
    body.append(
        f"Reads at peak: wrk, {meta.get('threads')} threads, {meta.get('connections')} connections, {meta.get('duration')} s. "
        f"Half peak: wrk with the same connections, paced to half the peak throughput with evenly spaced requests, "
        f"{meta.get('duration')} s. Latencies are per request, in milliseconds. The ratio is the operation's peak "
        "throughput over the mean peak throughput of the two ceiling runs on the same backend. "
        f"Writes at peak with {meta.get('write_connections', '8 32 64').replace(' ', ', ')} connections, then paced to half "
        f"their best peak with {meta.get('connections')} connections; their ratio is the best peak over the mean of "
        "the write ceiling's best peaks before and after the writes."
    )
    body.append("")
    for backend in res.backends:
        backend_section(res, backend, body, verdicts)
    plans = ["## Query plans", ""]
    plans_section(res, plans, verdicts)

    unexpected = res.unexpected()
    for backend in res.backends:
        bad = [u for u in unexpected if u[0] == backend]
        verdicts.append((
            BACKEND_NAMES.get(backend, backend), "every answer of every scenario had its expected status",
            "all" if not bad else "; ".join(
                f"{op} {mode}{f' ({c} connections)' if c else ''}: {text}" for _, op, mode, c, text in bad),
            not bad,
        ))
    lines.append("## Targets")
    lines.append("")
    if unexpected:
        lines.append(
            "**The run failed: some scenarios' answers were not their expected status** (see the last rows); "
            "their figures measure refusals, not the operation."
        )
        lines.append("")
    lines.append("| backend | target | measured | met? |")
    lines.append("|---|---|---|---|")
    for backend, target, measured, ok in verdicts:
        lines.append(f"| {backend} | {target} | {measured} | {'yes' if ok else '**no**'} |")
    lines.append("")
    lines += body + plans

    lines.append("## How measured")
    lines.append("")
    lines += [
        f"- For each backend: a fresh database (SQLite: a file in a temporary directory; PostgreSQL: "
        "`kabinet_bench`, dropped and created again), `kabinet migrate`, `kabinet seed-demo`, `kabinet-bench seed`; "
        "on PostgreSQL `VACUUM ANALYZE` after the bulk load (what autovacuum would do on a live server).",
        "- The release `kabinet serve` (2 workers, pool of 10 connections, log level warn) and the ceiling "
        "(`kabinet-bench ceiling`: `GET /row/{id}`, one primary-key select through the same `Database` pool "
        "and diesel, 2 workers) run side by side on loopback. **The load generator runs on the same 2 cores as the "
        "server and the database**, so every figure is lower than on separate machines; the ceiling pays the same "
        "cost, which is why the ratios are the figures to compare.",
        "- Logged in once per account for the whole run (heavy citizen `bench.heavy@example.ru`, officer "
        "`officer.mvd`): a new login ends the account's previous session. Access tokens last 2 hours for the run.",
        "- Before measuring: one curl request per scenario checks its status; then 3-second wrk warm-ups of the "
        "ceiling, get, list and queue.",
        "- Get one and the ceiling: each wrk request takes the next id of the heavy citizen's submitted applications "
        "(`applications.txt`), at peak and at half peak. List: the heavy citizen's first page "
        f"(`limit=20`) and the page reached by following `next_cursor` {meta.get('deep_pages', 50)} times from it. "
        "Queue: `officer.mvd`'s first page (`limit=20`).",
        f"- Writes run after the reads (so the reads see the seeded data only), each at its peak with every "
        "connection count, then paced to half its best peak. The write ceiling (`kabinet-bench ceiling`, "
        "`POST /write`) inserts the request's JSON as a row and an audit-shaped row (id, time, actor, action, "
        "target, details JSON) into tables of its own in one transaction, through the same pool and diesel. "
        f"Create and comment are spread over {meta.get('writers', 512):,} citizens (`bench.1` … ), each logged in once, "
        "every request the next writer's: create `POST /applications` (a passport-replacement draft), comment "
        "`POST /applications/{id}/comments` on one of the writer's own submitted applications. Submit: "
        "`POST /applications/{id}/submit` with `If-Match: \"1\"` by the heavy citizen, each seeded draft (of a "
        "service requiring one paper, its passport scan attached from a vault document shared with the agencies) "
        "once; before each run the drafts left are read from the database. Sign: `POST /applications/{id}/signatures` "
        f"with `If-Match: \"1\"` and a one-time code: {meta.get('sign_drafts', 30000):,} drafts spread over the writers, "
        "each with a pending signing code seeded (hashed with the run's index key, as the server does); the server "
        "redeems an account's newest code, so each wrk thread holds one connection and signs its writers' drafts "
        "newest code first, one request at a time (wrk `-t` = `-c` for sign only).",
        "- Every answer must have the scenario's expected status (200 for reads, 201 for the write ceiling, create, "
        "comment and sign, 200 for submit) and every request must be answered; otherwise the run goes on, the "
        "Targets table names the scenario with its first refusal, and `make bench` exits 1. Abuse limits are set "
        "out of reach for the run (`KABINET_RATE_*=1000000000/1d`), but still counted in the database on every "
        "request as in production. Keys (`KABINET_SIGNING_KEYS`, `KABINET_PII_KEYS`, `KABINET_PII_INDEX_KEY`) are "
        "generated for the run.",
        "- Lock waits (PostgreSQL writes): one `psql` session reads `pg_stat_activity` every 200 ms during each write "
        "run; a backend sample is one active client backend of the benchmark's database in one sample (the "
        "sampler left out), lock-waiting when its `wait_event_type` is `Lock`.",
        f"- Peak: `wrk -t{meta.get('threads')} -c{meta.get('connections')} -d{meta.get('duration')}s --latency` with "
        "the Lua scripts in `scripts/bench/`. Half peak (reads): the same wrk command and script with "
        "`BENCH_RATE` set to half the peak's requests/s: each wrk thread sends on an evenly spaced schedule "
        "(`delay()` in `scripts/bench/common.lua`), a connection taking the next slot once its previous answer "
        "is back; the achieved rate is shown next to each p99. Not hey: `hey -q` starts every worker's ticker "
        "at the same instant, so its workers fire in lockstep, a burst of `-c` requests every `1/q` s, and the "
        "latency it reports is that of a burst queueing on 2 cores, several times the steady-rate figure.",
        "- The ceiling is measured before the reads and again after them; the two runs show how much the machine "
        "drifted (other work on the machine, e.g. compiles, lowers some runs: see the other-load column). "
        "Likewise the write ceiling, before the writes and again after them (peaks only).",
        "- PostgreSQL plans: `EXPLAIN (ANALYZE, BUFFERS)` after the reads (before the writes), after `ANALYZE`; deep page cursor taken "
        "from the row at position 1,000 of the heavy citizen's order. The scan counters come from "
        "`pg_stat_user_tables`.",
    ]
    lines.append("")
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("results", help="results.jsonl written by scripts/bench.sh")
    parser.add_argument("-o", "--output", default="docs/benchmarks.md")
    args = parser.parse_args()
    text = report(Results(args.results))
    # The section of `make bench-cluster` (scripts/bench_cluster.py) is its own: kept as it is.
    start, end = "<!-- bench-cluster -->", "<!-- /bench-cluster -->"
    if os.path.exists(args.output):
        old = open(args.output, encoding="utf-8").read()
        if start in old and end in old:
            text = text.rstrip("\n") + "\n\n" + start + old.split(start, 1)[1].split(end, 1)[0] + end + "\n"
    os.makedirs(os.path.dirname(os.path.abspath(args.output)), exist_ok=True)
    tmp = args.output + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(tmp, args.output)
    return 0


if __name__ == "__main__":
    sys.exit(main())
