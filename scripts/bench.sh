#!/usr/bin/env bash
# HTTP benchmark (`make bench`): for each backend (SQLite, then PostgreSQL) a fresh database
# with the benchmark's volume (kabinet-bench seed: 10,000 citizens, 200,000 applications with
# their history and signatures, 100,000 drafts of one heavy citizen, 60,000 drafts to sign spread over 512
# writers), a release `kabinet serve` and the bare actix-web + diesel ceilings
# (`kabinet-bench ceiling`: a primary-key read, and a row plus an audit-shaped row written in
# one transaction), both on loopback. Every read is driven by wrk at its peak and again
# paced to half that rate (scripts/bench/common.lua: evenly spaced requests); every write
# (the write ceiling, create, submit, comment, sign) at its peak with 8, 32 and 64
# connections, then paced to half its best peak. During each PostgreSQL write run a sampler
# reads pg_stat_activity every 200 ms (backends waiting on a lock). PostgreSQL query plans,
# SQLite query plans and PostgreSQL's seq-scan counters go with the figures into one results
# file, from which scripts/bench_report.py writes docs/benchmarks.md.
#
# Every answer of every scenario must have the scenario's expected status (and no request
# may go unanswered): otherwise the run goes on to the end, the report names the scenario,
# and the script exits 1.
#
# Builds nothing: `make bench` installs wrk and builds the release binaries first.
# Only 127.0.0.1 is contacted; every run is bounded in time; servers stop on exit.
#
# Environment (all optional):
#   KABINET_BIN / KABINET_BENCH_BIN   binaries (default: ${CARGO_TARGET_DIR:-target}/release/…)
#   BENCH_BACKENDS        "sqlite postgres" (default), or one of them
#   BENCH_POSTGRES        server URL without database (default postgres://postgres@127.0.0.1:5432);
#                         the database kabinet_bench on it is dropped and created again
#   BENCH_CITIZENS / BENCH_APPLICATIONS / BENCH_DRAFTS   volume (10000 / 200000 / 100000; submit spends
#                         the drafts: three peaks and a half-peak run must not run out of them)
#   BENCH_WRITERS         citizens who create, comment and sign (default 512; each logs in once)
#   BENCH_SIGN_DRAFTS     drafts to sign, spread over the writers (default 60000)
#   BENCH_DURATION        seconds per measured run (default 10)
#   BENCH_THREADS / BENCH_CONNECTIONS   wrk, at peak and at half peak (default 2 / 32)
#   BENCH_WRITE_CONNECTIONS   connection counts of the write peaks (default "8 32 64")
#   BENCH_DEEP_PAGES      pages followed to reach the deep cursor (default 50)
#   BENCH_QUIET_WAIT      seconds to wait at most, before each run, for other work on the machine
#                         to drop under a third of a core (default 45)
#   BENCH_ONLY            scenarios to run, e.g. "ceiling_write create" (default: all)
#   BENCH_WORK_DIR        raw outputs and results.jsonl (default target/bench)
#   BENCH_DOC             the report (default docs/benchmarks.md; empty: no report)
#   BENCH_COMMAND         the command recorded in the report (default: this script)
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
root=$(pwd)

target_dir=${CARGO_TARGET_DIR:-target}
kabinet_bin=${KABINET_BIN:-$target_dir/release/kabinet}
bench_bin=${KABINET_BENCH_BIN:-$target_dir/release/kabinet-bench}
backends=${BENCH_BACKENDS:-sqlite postgres}
pg_server=${BENCH_POSTGRES:-postgres://postgres@127.0.0.1:5432}
pg_db=kabinet_bench
citizens=${BENCH_CITIZENS:-10000}
applications=${BENCH_APPLICATIONS:-200000}
drafts=${BENCH_DRAFTS:-100000}
writers=${BENCH_WRITERS:-512}
sign_drafts=${BENCH_SIGN_DRAFTS:-60000}
write_connections=${BENCH_WRITE_CONNECTIONS:-8 32 64}
duration=${BENCH_DURATION:-10}
threads=${BENCH_THREADS:-2}
connections=${BENCH_CONNECTIONS:-32}
deep_pages=${BENCH_DEEP_PAGES:-50}
work_root=${BENCH_WORK_DIR:-$target_dir/bench}
doc=${BENCH_DOC-docs/benchmarks.md}
command_line=${BENCH_COMMAND:-bash scripts/bench.sh}
lua_dir=$root/scripts/bench

heavy_login=bench.heavy@example.ru
bench_password=Bench-Passw0rd!
officer_login=officer.mvd
officer_password=Demo-Officer-2026!

started=$(date +%s)
say() { printf '[bench %4ss] %s\n' "$(( $(date +%s) - started ))" "$*" >&2; }
die() { say "error: $*"; exit 1; }

for tool in curl python3 wrk timeout flock openssl; do
    command -v "$tool" >/dev/null || die "$tool is required (make bench installs wrk)"
done
[[ -x $kabinet_bin ]] || die "$kabinet_bin not found; run 'make bench' (or cargo build --release -p kabinet-api --bin kabinet)"
[[ -x $bench_bin ]] || die "$bench_bin not found; run 'make bench' (or cargo build --release -p kabinet-tests --bin kabinet-bench)"
for c in $write_connections $connections; do
    # Sign gives each connection its own writers (one request of a writer at a time).
    ((writers >= c)) || die "BENCH_WRITERS ($writers) must be at least every connection count ($c): sign gives each connection writers of its own"
done
kabinet_bin=$(cd "$(dirname "$kabinet_bin")" && pwd)/$(basename "$kabinet_bin")
bench_bin=$(cd "$(dirname "$bench_bin")" && pwd)/$(basename "$bench_bin")
for backend in $backends; do
    case $backend in
        sqlite) ;;
        postgres)
            for tool in psql pg_isready; do
                command -v "$tool" >/dev/null || die "$tool is required for the PostgreSQL run (postgresql-client)"
            done
            pg_isready -q -d "$pg_server" || die "PostgreSQL is not reachable at $pg_server (pg_isready); start it or set BENCH_BACKENDS=sqlite"
            ;;
        *) die "unknown backend '$backend' in BENCH_BACKENDS" ;;
    esac
done

# One benchmark at a time on this machine: two would share the cores, the PostgreSQL
# database and (by default) the work directory, and spoil each other's figures.
lock=${TMPDIR:-/tmp}/kabinet-bench.lock
exec 9>"$lock"
flock -n 9 || die "another benchmark is running on this machine (it holds $lock); wait for it to finish"

mkdir -p "$work_root"
work_root=$(cd "$work_root" && pwd)
raw=$work_root/raw
rm -rf "$raw"
mkdir -p "$raw"
results=$work_root/results.jsonl
: >"$results"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/kabinet-bench.XXXXXX")

pids=()
stop_servers() {
    local pid
    for pid in "${pids[@]}"; do
        kill "$pid" 2>/dev/null || true
    done
    for pid in "${pids[@]}"; do
        wait "$pid" 2>/dev/null || true
    done
    pids=()
}
cleanup() {
    stop_servers
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# record key=string key:=json …: one JSON object appended to results.jsonl.
record() {
    python3 - "$@" >>"$results" <<'PY'
import json, sys
out = {}
for arg in sys.argv[1:]:
    # A body cut at N bytes can end inside a UTF-8 character: keep what decodes.
    arg = arg.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    key, _, value = arg.partition("=")
    if key.endswith(":"):
        out[key[:-1]] = json.loads(value)
    else:
        out[key] = value
print(json.dumps(out, ensure_ascii=False))
PY
}

# json_field FIELD: that field of the JSON object on standard input (empty if absent).
json_field() {
    python3 -c 'import json, sys
v = json.load(sys.stdin).get(sys.argv[1])
print("" if v is None else v)' "$1"
}

loadavg() { cut -d' ' -f1 /proc/loadavg; }

wait_http() { # URL SECONDS PID
    local i
    for ((i = 0; i < $2 * 10; i++)); do
        kill -0 "$3" 2>/dev/null || return 1
        curl -fsS -m 2 -o /dev/null "$1" 2>/dev/null && return 0
        sleep 0.1
    done
    return 1
}

# wrk_run NAME SCRIPT [VAR=value …]: one wrk run, at full speed unless BENCH_RATE=… is among
# the variables; prints its JSON figures.
wrk_run() {
    local name=$1 script=$2 url
    shift 2
    url=$target_url
    env BENCH_LUA_DIR="$lua_dir" BENCH_THREADS="$threads" BENCH_OUT="$raw/$name.json" "$@" \
        timeout $((duration + 30)) wrk -t"$threads" -c"$connections" -d"${duration}s" --timeout 5s --latency \
        -s "$lua_dir/$script" "$url" >"$raw/$name.wrk.txt" 2>&1 \
        || die "wrk failed for $name: $(tail -n 5 "$raw/$name.wrk.txt")"
    [[ -s $raw/$name.json ]] || die "wrk wrote no figures for $name: $(tail -n 5 "$raw/$name.wrk.txt")"
    cat "$raw/$name.json"
}

# pg_scans: per table "name seq_scan idx_scan live_rows" (PostgreSQL runs only).
pg_scans() {
    psql "$db_url" -XAtq -F' ' -c "SELECT relname, seq_scan, COALESCE(idx_scan, 0), n_live_tup FROM pg_stat_user_tables ORDER BY relname"
}

scans_before= scans_own=
# Backends flush their statistics at most once a second when idle (the sealer's too, whose
# deletes take its queue's rows off the live count): scans_mark waits as scans_record does.
scans_mark() { [[ $backend == postgres ]] && sleep 2 && scans_before=$(pg_scans) && scans_own= || true; }

# sealer_caught_up: waits (PostgreSQL) until the sealer has sealed every audit record. Its
# queue, audit_unsealed, holds the sealer's lag (under a second of writes): a scenario that
# began with the last one's backlog would count the sealer's work on it, and the queue's
# scans, against its own figures. Then vacuums the queue, as autovacuum (off on this
# machine) does in production: a scenario leaves ~100,000 dead rows in it, which the
# sealer's every pass would read, and the statistics' live count drifts (1,499 "live" rows
# seen in a queue that count(*) found empty).
sealer_caught_up() {
    [[ $backend == postgres ]] || return 0
    local unsealed=1 waited
    for ((waited = 0; waited < 60; waited++)); do
        unsealed=$(psql "$db_url" -XAtq -c "SELECT count(*) FROM audit_unsealed")
        if [[ $unsealed == 0 ]]; then
            psql "$db_url" -XAtq -c "VACUUM ANALYZE audit_unsealed"
            return 0
        fi
        sleep 1
    done
    die "the sealer left $unsealed audit records unsealed after 60 s"
}
# own_queries COMMAND…: runs the benchmark's own bulk queries (a plan's preparation), whose
# scans are not the server's: scans_record leaves them out. psql flushes its statistics
# when it exits, and the machine is quiet by then (wait_quiet).
own_queries() {
    [[ $backend == postgres ]] || { "$@"; return; }
    local before
    before=$(pg_scans)
    "$@"
    scans_own+=$(scans_delta "$before" "$(pg_scans)")$'\n'
}
# scans_delta BEFORE AFTER: one JSON object, per table its seq and index scans in between.
scans_delta() {
    python3 -c '
import json, sys
before = {l.split()[0]: l.split()[1:] for l in sys.argv[1].splitlines() if l.strip()}
out = {}
for line in sys.argv[2].splitlines():
    if not line.strip():
        continue
    name, seq, idx, rows = line.split()
    b = before.get(name, ["0", "0", rows])
    out[name] = {"seq_scan": int(seq) - int(b[0]), "idx_scan": int(idx) - int(b[1]),
                 "rows_before": int(b[2]), "rows": int(rows)}
print(json.dumps(out))
' "$1" "$2"
}
scans_record() { # OP: tables whose scans grew since scans_mark, less the benchmark's own
    [[ $backend == postgres ]] || return 0
    sleep 2 # backends flush their statistics at most once a second when idle
    record kind=scans backend="$backend" op="$1" tables:="$(python3 -c '
import json, sys
out = json.loads(sys.argv[1])
for line in sys.argv[2].splitlines():
    for name, own in (json.loads(line) if line.strip() else {}).items():
        if name in out:
            out[name]["seq_scan"] -= own["seq_scan"]
            out[name]["idx_scan"] -= own["idx_scan"]
print(json.dumps({k: v for k, v in out.items() if v["seq_scan"] or v["idx_scan"]}))
' "$(scans_delta "$scans_before" "$(pg_scans)")" "$scans_own")"
}

# CPU accounting around each measured run, to tell how much other work (compiles…) the
# machine did meanwhile: all busy CPU time (/proc/stat) less that of the server, the ceiling,
# PostgreSQL's processes and the load generator (this shell's children, from `times`).
server_pids=""
cpu_sample() {
    python3 - $server_pids <<'PY'
import json, os, sys, time
def ticks(pid):
    try:
        f = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
        return int(f[11]) + int(f[12])  # utime, stime
    except (OSError, IndexError, ValueError):
        return 0
ours = set(sys.argv[1:])
for p in os.listdir("/proc"):
    if p.isdigit():
        try:
            if open(f"/proc/{p}/comm").read().strip() == "postgres":
                ours.add(p)
        except OSError:
            pass
v = list(map(int, open("/proc/stat").readline().split()[1:8]))
busy = v[0] + v[1] + v[2] + v[5] + v[6]  # user nice system irq softirq
print(json.dumps({"t": time.monotonic(), "busy": busy, "ours": {p: ticks(p) for p in ours}}))
PY
}
cpu_mark() {
    times >"$tmp/times.before"
    cpu_before=$(cpu_sample)
}
# cpu_stop: sets $cpu to JSON: cores' worth of CPU used since cpu_mark, by whom. Both run in
# this shell (not in $(…)): `times` in a subshell counts that subshell's children only.
cpu_stop() {
    local after
    after=$(cpu_sample)
    times >"$tmp/times.after"
    cpu=$(python3 - "$cpu_before" "$after" "$tmp/times.before" "$tmp/times.after" <<'PY'
import json, os, re, sys
b, a = json.loads(sys.argv[1]), json.loads(sys.argv[2])
def children(path):  # second line of `times`: user and system time of waited-for children
    line = open(path).read().splitlines()[1]
    return sum(int(m) * 60 + float(s) for m, s in re.findall(r"(\d+)m([\d.]+)s", line))
hz = os.sysconf("SC_CLK_TCK")
wall = a["t"] - b["t"]
busy = (a["busy"] - b["busy"]) / hz
ours = sum(t - b["ours"].get(p, 0) for p, t in a["ours"].items()) / hz
loadgen = children(sys.argv[4]) - children(sys.argv[3])
print(json.dumps({"wall": round(wall, 2), "busy_cores": round(busy / wall, 2),
                  "server_db_cores": round(ours / wall, 2), "loadgen_cores": round(loadgen / wall, 2),
                  "other_cores": round(max(0.0, busy - ours - loadgen) / wall, 2)}))
PY
)
}

# wait_quiet: wait (at most BENCH_QUIET_WAIT seconds, default 45) until other work uses less
# than a third of a core, sampled over one second; prints the seconds waited.
wait_quiet() {
    python3 - "${BENCH_QUIET_WAIT:-45}" <<'PY'
import os, sys, time
hz, limit, start = os.sysconf("SC_CLK_TCK"), float(sys.argv[1]), time.monotonic()
def busy():
    v = list(map(int, open("/proc/stat").readline().split()[1:8]))
    return v[0] + v[1] + v[2] + v[5] + v[6]
while True:
    b = busy(); time.sleep(1); used = (busy() - b) / hz
    if used < 0.33 or time.monotonic() - start >= limit:
        break
print(round(time.monotonic() - start - 1, 1))
PY
}

# Scenarios whose answers were not all the expected status ("backend op mode: what").
failures=()

# answers_ok RUN EXPECTED FIGURES: true when every answer has status EXPECTED, none went
# unanswered (socket errors, timeouts) and no plan line was sent twice; otherwise prints why.
answers_ok() {
    python3 -c 'import json, sys
f, expected = json.loads(sys.argv[2]), sys.argv[1]
bad = []
other = {c: n for c, n in (f.get("statuses") or {}).items() if c != expected}
if other:
    bad.append("answers " + ", ".join(f"{c}x{n}" for c, n in sorted(other.items())) + f" (expected {expected})")
errors = f["errors"]
if not f.get("statuses") and errors["status"]:
    bad.append("%d answers >= 400" % errors["status"])
unanswered = sum(v for k, v in errors.items() if k != "status")
if unanswered:
    bad.append("%d requests unanswered (socket errors or timeouts)" % unanswered)
if f.get("ids_reused"):
    bad.append("ran out of prepared lines: %d sent again" % f["ids_reused"])
samples = list((f.get("failed_samples") or {}).values())
if bad and samples:
    bad.append("first: " + samples[0][:200])
if bad:
    print("; ".join(bad))
    sys.exit(1)' "$1" "$2"
}

# verify RUN-NAME EXPECTED FIGURES: answers_ok, remembering a failure for the end.
verify() {
    local why
    if ! why=$(answers_ok "$2" "$3"); then
        failures+=("$1: $why")
        say "$1: NOT THE EXPECTED ANSWERS: $why"
    fi
}

# BENCH_ONLY names the scenarios to run (for a quick comparison; the report needs them all).
wanted() { [[ -z ${BENCH_ONLY:-} || " $BENCH_ONLY " == *" $1 "* ]]; }

# measure OP KIND SCRIPT [VAR=value …]: wrk at peak, then (KIND read) wrk paced to half the
# peak throughput; KIND peak: the peak run only. Every answer must be 200.
measure() {
    local op=$1 kind=$2 script=$3
    shift 3
    wanted "$op" || return 0
    local figures peak half load quiet cpu
    scans_mark
    quiet=$(wait_quiet)
    load=$(loadavg)
    say "$backend: $op at peak (wrk -t$threads -c$connections -d${duration}s)"
    cpu_mark
    figures=$(wrk_run "$backend-$op-peak" "$script" "$@")
    cpu_stop
    peak=$(json_field rps <<<"$figures")
    say "$backend: $op peak $(summary "$figures" "$cpu")"
    verify "$backend $op peak" 200 "$figures"
    record kind=run backend="$backend" op="$op" mode=peak tool=wrk loadavg_before="$load" expected=200 \
        quiet_wait:="$quiet" cpu:="$cpu" threads:="$threads" connections:="$connections" figures:="$figures"
    if [[ $kind == read ]]; then
        local rate
        rate=$(python3 -c "print(round(float('$peak') / 2, 1))")
        quiet=$(wait_quiet)
        load=$(loadavg)
        say "$backend: $op at half peak (wrk paced to $rate req/s)"
        cpu_mark
        half=$(wrk_run "$backend-$op-half" "$script" "$@" BENCH_RATE="$rate")
        cpu_stop
        say "$backend: $op half peak $(summary "$half" "$cpu")"
        verify "$backend $op half" 200 "$half"
        record kind=run backend="$backend" op="$op" mode=half tool=wrk loadavg_before="$load" expected=200 \
            quiet_wait:="$quiet" cpu:="$cpu" threads:="$threads" connections:="$connections" \
            target_rps:="$rate" figures:="$half"
    fi
    scans_record "$op"
}

# Lock sampling (PostgreSQL write runs): one psql session reads pg_stat_activity every
# 200 ms; per sample the active client backends of the benchmark's database (the sampler
# left out), those waiting on a lock (wait_event_type 'Lock'), and the waiting queries.
locks_start() {
    [[ $backend == postgres ]] || return 0
    locks_file=$raw/$backend-$1.locks
    rm -f "$tmp/locks.stop"
    (
        while [[ ! -e $tmp/locks.stop ]]; do
            printf '%s\n' "SELECT count(*) FILTER (WHERE state = 'active'), count(*) FILTER (WHERE state = 'active' AND wait_event_type = 'Lock'), coalesce(string_agg(coalesce(wait_event, '') || ' ' || regexp_replace(left(query, 200), '\s+', ' ', 'g'), ' | ') FILTER (WHERE state = 'active' AND wait_event_type = 'Lock'), '') FROM pg_stat_activity WHERE datname = current_database() AND backend_type = 'client backend' AND pid <> pg_backend_pid();"
            sleep 0.2
        done | psql "$db_url" -XAtq -F$'\t' >"$locks_file" 2>&1
    ) &
    locks_pid=$!
}

# locks_stop OP MODE CONNECTIONS: ends the sampler and records its counts.
locks_stop() {
    [[ $backend == postgres ]] || return 0
    touch "$tmp/locks.stop"
    wait "$locks_pid" 2>/dev/null || true
    record kind=locks backend="$backend" op="$1" mode="$2" connections:="$3" locks:="$(python3 - "$locks_file" <<'PY'
import collections, json, sys
samples = backends = waiting = 0
queries = collections.Counter()
for line in open(sys.argv[1], encoding="utf-8", errors="replace"):
    parts = line.rstrip("\n").split("\t")
    if len(parts) < 2 or not parts[0].isdigit():
        continue
    samples += 1
    backends += int(parts[0])
    waiting += int(parts[1])
    for q in filter(None, (parts[2] if len(parts) > 2 else "").split(" | ")):
        queries[q.strip()] += 1
print(json.dumps({"samples": samples, "backend_samples": backends, "lock_samples": waiting,
                  "top": [[q, n] for q, n in queries.most_common(5)]}))
PY
)"
}

# measure_write OP EXPECTED PREPARE SCRIPT [VAR=value …]: wrk at peak with each connection
# count of BENCH_WRITE_CONNECTIONS, then paced to half the best peak with BENCH_CONNECTIONS.
# PREPARE (a function, or "-") runs before each run and may set plan_vars (extra VAR=value:
# the run's plan); THREADS=connections among the variables gives each connection a thread,
# PEAKS_ONLY leaves out the half-peak run.
measure_write() {
    local op=$1 expected=$2 prepare=$3 script=$4
    shift 4
    wanted "$op" || return 0
    local figures load quiet cpu c best=0 rate half_connections=$connections
    local per_connection=false peaks_only=false
    [[ " $* " == *" THREADS=connections "* ]] && per_connection=true
    [[ " $* " == *" PEAKS_ONLY "* ]] && peaks_only=true
    local -a vars=()
    local v
    for v in "$@"; do
        [[ $v == THREADS=connections || $v == PEAKS_ONLY ]] || vars+=("$v")
    done
    sealer_caught_up
    scans_mark
    for c in $write_connections; do
        local connections=$c threads=$threads
        if $per_connection; then threads=$c; elif ((threads > c)); then threads=$c; fi
        # Prepared after the machine is quiet: the requests the last run left in flight have
        # been answered, and what they used is no longer in the plan.
        quiet=$(wait_quiet)
        plan_vars=()
        [[ $prepare == - ]] || own_queries $prepare
        load=$(loadavg)
        say "$backend: $op at peak (wrk -t$threads -c$c -d${duration}s)"
        locks_start "$op-peak-c$c"
        cpu_mark
        figures=$(wrk_run "$backend-$op-peak-c$c" "$script" "${vars[@]}" "${plan_vars[@]}")
        cpu_stop
        locks_stop "$op" peak "$c"
        say "$backend: $op peak, $c connections: $(summary "$figures" "$cpu")"
        verify "$backend $op peak c$c" "$expected" "$figures"
        record kind=run backend="$backend" op="$op" mode=peak tool=wrk loadavg_before="$load" expected="$expected" \
            quiet_wait:="$quiet" cpu:="$cpu" threads:="$threads" connections:="$c" figures:="$figures"
        best=$(python3 -c "import json, sys; print(max(float(sys.argv[1]), json.loads(sys.argv[2])['rps']))" "$best" "$figures")
    done
    if $peaks_only; then
        scans_record "$op"
        return 0
    fi
    rate=$(python3 -c "print(round(float('$best') / 2, 1))")
    local connections=$half_connections threads=$threads
    $per_connection && threads=$connections
    quiet=$(wait_quiet)
    plan_vars=()
    [[ $prepare == - ]] || own_queries $prepare
    load=$(loadavg)
    say "$backend: $op at half peak (wrk -t$threads -c$connections paced to $rate req/s)"
    locks_start "$op-half"
    cpu_mark
    figures=$(wrk_run "$backend-$op-half" "$script" "${vars[@]}" "${plan_vars[@]}" BENCH_RATE="$rate")
    cpu_stop
    locks_stop "$op" half "$connections"
    say "$backend: $op half peak $(summary "$figures" "$cpu")"
    verify "$backend $op half" "$expected" "$figures"
    record kind=run backend="$backend" op="$op" mode=half tool=wrk loadavg_before="$load" expected="$expected" \
        quiet_wait:="$quiet" cpu:="$cpu" threads:="$threads" connections:="$connections" \
        target_rps:="$rate" figures:="$figures"
    scans_record "$op"
}

# db_rows SQL: the rows of a query on the run's database, tab-separated.
db_rows() {
    case $backend in
        sqlite) python3 -c 'import sqlite3, sys
for row in sqlite3.connect(sys.argv[1]).execute(sys.argv[2]):
    print("\t".join("" if v is None else str(v) for v in row))' "${db_url#sqlite://}" "$1" ;;
        postgres) psql "$db_url" -XAtq -F$'\t' -c "$1" ;;
    esac
}

# Plans of the writes that use each draft once, made from the database before each run, so
# a run never gets a draft an earlier run used.
prepare_submit() { # the heavy citizen's drafts with their paper attached (seeded for it), each its own group
    sleep 2 # the requests the last run left in flight are answered by now
    db_rows "SELECT a.id FROM applications a JOIN attachments t ON t.application_id = a.id WHERE a.owner_id = '$heavy_id' AND a.status = 'draft' AND a.version = 1 ORDER BY a.id" \
        | awk -F'\t' '{ printf "%d\t0\t/api/v1/applications/%s/submit\n", NR, $1 }' >"$seed_dir/submit.plan"
    plan_vars=(BENCH_PLAN="$seed_dir/submit.plan")
}
prepare_sign() { # each writer's drafts with a pending code, newest code first, one group a writer
    sleep 2 # the requests the last run left in flight are answered by now
    # Ranked within each writer (newest code first), then rank by rank across the writers: a
    # thread holding several writers spends them evenly, so later runs find every writer
    # with drafts left.
    db_rows "SELECT account_id, target FROM one_time_codes WHERE purpose = 'application.sign' AND used_at IS NULL ORDER BY account_id, created_at DESC" \
        | awk -F'\t' 'NR == FNR { index_of[$1] = FNR - 1; next }
            ($1 in index_of) { printf "%d\t%d\t%d\t/api/v1/applications/%s/signatures\n", rank[$1]++, index_of[$1], index_of[$1], $2 }' \
            "$seed_dir/writers.txt" - | sort -n -s -k1,1 | cut -f2- >"$seed_dir/sign.plan"
    plan_vars=(BENCH_PLAN="$seed_dir/sign.plan")
}

summary() { # FIGURES CPU: one line for the progress output
    python3 -c 'import json, sys
f, c = json.loads(sys.argv[1]), json.loads(sys.argv[2])
print("%.0f req/s, p50 %.2f ms, p99 %.2f ms, answers >= 400: %d, other processes: %.2f cores"
      % (f["rps"], f["p50_ms"], f["p99_ms"], f["errors"]["status"], c["other_cores"]))' "$1" "$2"
}

# check NAME EXPECTED CURL-ARGS…: one request with curl; records its status and the head of
# its body; prints the status.
check() {
    local name=$1 expected=$2 status body
    shift 2
    status=$(curl -sS -m 10 -o "$raw/$backend-check-$name.body" -w '%{http_code}' "$@") || status=000
    body=$(head -c 600 "$raw/$backend-check-$name.body" 2>/dev/null || true)
    record kind=check backend="$backend" op="$name" status="$status" expected="$expected" body="$body"
    say "$backend: check $name -> $status"
    printf '%s' "$status"
}

expect() { # NAME EXPECTED CURL-ARGS…: check, and stop unless the status is EXPECTED
    local status
    status=$(check "$@")
    [[ $status == "$2" ]] || die "$backend: $1 answered $status, not $2: $(head -c 400 "$raw/$backend-check-$1.body")"
}

login() { # LOGIN PASSWORD -> access token
    local answer
    answer=$(curl -sS -m 30 -H 'Content-Type: application/json' \
        -d "$(python3 -c 'import json,sys; print(json.dumps({"login": sys.argv[1], "password": sys.argv[2]}))' "$1" "$2")" \
        "$api/auth/login") || die "login of $1 failed"
    [[ $(json_field status <<<"$answer") == authenticated ]] || die "login of $1: $answer"
    json_field access_token <<<"$answer"
}

# login_writers: one login per writer (bench.1 … bench.N), tokens in writers.tokens in the
# order of writers.txt; two at a time (argon2 uses a core each).
login_writers() {
    say "$backend: logging $writers writers in"
    python3 - "$api/auth/login" "$bench_password" "$seed_dir/writers.txt" "$seed_dir/writers.tokens" <<'PY' \
        || die "logging the writers in failed"
import concurrent.futures, json, sys, urllib.request
url, password, writers, out = sys.argv[1:]
logins = [line.rstrip("\n").split("\t")[1] for line in open(writers, encoding="utf-8") if line.strip()]
def login(name):
    body = json.dumps({"login": name, "password": password}).encode()
    request = urllib.request.Request(url, body, {"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=60) as answer:
        data = json.load(answer)
    if data.get("status") != "authenticated":
        raise SystemExit(f"login of {name}: {data}")
    return data["access_token"]
with concurrent.futures.ThreadPoolExecutor(2) as pool:
    tokens = list(pool.map(login, logins))
with open(out, "w", encoding="utf-8") as f:
    f.write("\n".join(tokens) + "\n")
PY
}

prepare_database() {
    case $backend in
        sqlite)
            db_url="sqlite://$tmp/sqlite/kabinet.db"
            mkdir -p "$tmp/sqlite"
            ;;
        postgres)
            psql "$pg_server/postgres" -XAtq -c "DROP DATABASE IF EXISTS $pg_db WITH (FORCE)"
            psql "$pg_server/postgres" -XAtq -c "CREATE DATABASE $pg_db"
            db_url="$pg_server/$pg_db"
            ;;
    esac
}

sqlite_plans() {
    local db=${db_url#sqlite://}
    python3 - "$db" "$heavy_id" >>"$results" <<'PY'
import json, sqlite3, sys
db, heavy = sys.argv[1], sys.argv[2]
c = sqlite3.connect(db)
at, deep_id = c.execute(
    "SELECT created_at, id FROM applications WHERE owner_id = ? ORDER BY created_at DESC, id DESC LIMIT 1 OFFSET 1000",
    (heavy,)).fetchone()
some_id = c.execute("SELECT id FROM applications WHERE owner_id = ? LIMIT 1", (heavy,)).fetchone()[0]
q = lambda v: "'" + str(v).replace("'", "''") + "'"
queries = [
    ("list first page", f"SELECT * FROM applications WHERE owner_id = {q(heavy)} ORDER BY created_at DESC, id DESC LIMIT 21"),
    ("list deep page", f"SELECT * FROM applications WHERE owner_id = {q(heavy)} AND (created_at, id) < ({q(at)}, {q(deep_id)}) ORDER BY created_at DESC, id DESC LIMIT 21"),
    ("officer queue", "SELECT * FROM applications WHERE agency_code = 'mvd' AND in_queue = 1 ORDER BY submitted_at, id LIMIT 21"),
    ("get one", f"SELECT * FROM applications WHERE id = {q(some_id)}"),
    ("signing code (sign)", "SELECT id, code_hash, target, expires_at FROM one_time_codes WHERE account_id = "
     + q(c.execute("SELECT account_id FROM one_time_codes LIMIT 1").fetchone()[0])
     + " AND purpose = 'application.sign' AND used_at IS NULL ORDER BY created_at DESC LIMIT 1"),
]
for name, sql in queries:
    rows = c.execute("EXPLAIN QUERY PLAN " + sql).fetchall()
    plan = "\n".join(r[-1] for r in rows)
    print(json.dumps({"kind": "plan", "backend": "sqlite", "name": name, "sql": sql, "plan": plan,
                      "seq_scan": any(r[-1].startswith("SCAN ") for r in rows)}))
PY
}

pg_plans() {
    local deep at deep_id some_id sql name plan
    psql "$db_url" -XAtq -c "ANALYZE"
    deep=$(psql "$db_url" -XAtq -F'|' -c "SELECT created_at, id FROM applications WHERE owner_id = '$heavy_id' ORDER BY created_at DESC, id DESC OFFSET 1000 LIMIT 1")
    at=${deep%%|*}
    deep_id=${deep#*|}
    some_id=$(head -n 1 "$seed_dir/applications.txt")
    local signer
    signer=$(psql "$db_url" -XAtq -c "SELECT account_id FROM one_time_codes WHERE purpose = 'application.sign' LIMIT 1")
    local -a names=("list first page" "list deep page" "officer queue" "get one" "signing code (sign)")
    local -a queries=(
        "SELECT * FROM applications WHERE owner_id = '$heavy_id' ORDER BY created_at DESC, id DESC LIMIT 21"
        "SELECT * FROM applications WHERE owner_id = '$heavy_id' AND (created_at, id) < ('$at', '$deep_id') ORDER BY created_at DESC, id DESC LIMIT 21"
        "SELECT * FROM applications WHERE agency_code = 'mvd' AND in_queue = true ORDER BY submitted_at, id LIMIT 21"
        "SELECT * FROM applications WHERE id = '$some_id'"
        "SELECT id, code_hash, target, expires_at FROM one_time_codes WHERE account_id = '$signer' AND purpose = 'application.sign' AND used_at IS NULL ORDER BY created_at DESC LIMIT 1"
    )
    local i
    for i in "${!names[@]}"; do
        name=${names[$i]}
        sql=${queries[$i]}
        plan=$(psql "$db_url" -XAtq -c "EXPLAIN (ANALYZE, BUFFERS) $sql")
        record kind=plan backend=postgres name="$name" sql="$sql" plan="$plan" \
            seq_scan:="$(grep -q 'Seq Scan' <<<"$plan" && echo true || echo false)"
    done
}

run_backend() {
    local data=$tmp/$backend-data server_log=$raw/$backend-server.log ceiling_log=$raw/$backend-ceiling.log
    local t0 port ceil_port server_pid ceiling_pid
    mkdir -p "$data"
    seed_dir=$raw/$backend-seed
    prepare_database
    export DATABASE_URL=$db_url KABINET_DATA_DIR=$data KABINET_LOG=warn KABINET_WORKERS=2 \
        KABINET_ACCESS_TOKEN_TTL_SECS=7200
    # Abuse limits out of the way (still counted in the database on every request, as in
    # production): one address logs all writers in, and each writer creates, comments and
    # signs hundreds of times a second.
    local quota=1000000000/1d
    export KABINET_RATE_LOGIN_PER_IP=$quota KABINET_RATE_LOGIN_PER_ACCOUNT=$quota \
        KABINET_RATE_CREATES_PER_ACCOUNT=$quota KABINET_RATE_SECOND_FACTOR_PER_ACCOUNT=$quota
    say "$backend: migrate and demo catalog ($db_url)"
    timeout 300 "$kabinet_bin" migrate >"$raw/$backend-setup.log" 2>&1 || die "migrate failed: $(tail -n 5 "$raw/$backend-setup.log")"
    timeout 300 "$kabinet_bin" seed-demo >>"$raw/$backend-setup.log" 2>&1 || die "seed-demo failed: $(tail -n 5 "$raw/$backend-setup.log")"
    say "$backend: seeding $citizens citizens, $applications applications, $drafts drafts"
    t0=$(date +%s)
    timeout 3600 "$bench_bin" seed --database-url "$db_url" --out "$seed_dir" \
        --citizens "$citizens" --applications "$applications" --drafts "$drafts" \
        --writers "$writers" --sign-drafts "$sign_drafts" 2>"$raw/$backend-seed.log" \
        || die "seed failed: $(tail -c 600 "$raw/$backend-seed.log")"
    local seed_seconds=$(( $(date +%s) - t0 ))
    if [[ $backend == postgres ]]; then
        # The seed writes applications and their history directly, so the tables that
        # every write appends to (live events and their audience, notices) would start
        # with a handful of rows. PostgreSQL plans from statistics: a pooled session's
        # cached plans (foreign-key checks included) made while such a table had one page
        # scan it whole on every later write, and this machine's server runs with
        # autovacuum off (its conf.d), so no ANALYZE ever revises them as the table grows.
        # A production database of this size has them in proportion: one live event with
        # its owner in the audience per history entry, one notice per change after creation,
        # and the e-mail that carried it.
        say "$backend: live events, notices and sent e-mails in proportion to the history"
        psql "$db_url" -XAtq -v ON_ERROR_STOP=1 <<'SQL' || die "seeding live events failed"
WITH seeded AS (
    INSERT INTO events (id, application_id, kind, data, created_at, service_code)
    SELECT row_number() OVER (ORDER BY h.occurred_at, h.id), h.application_id, 'application.' || h.event,
           json_build_object('actor', h.actor_id, 'status', h.to_status)::text, h.occurred_at, a.service_code
    FROM application_history h JOIN applications a ON a.id = h.application_id
    RETURNING id, application_id)
INSERT INTO event_audience (account_id, event_id)
SELECT a.owner_id, s.id FROM seeded s JOIN applications a ON a.id = s.application_id;
INSERT INTO notifications (id, recipient_id, kind, title, body, data, important, created_at, read_at)
SELECT gen_random_uuid()::text, a.owner_id, 'application.' || h.event, 'Заявление ' || coalesce(a.number, a.id),
       'Статус заявления ' || coalesce(a.number, a.id) || ': ' || coalesce(h.to_status, a.status),
       json_build_object('application_id', a.id, 'status', h.to_status)::text, false,
       h.occurred_at, h.occurred_at + interval '1 hour'
FROM application_history h JOIN applications a ON a.id = h.application_id WHERE h.event <> 'create';
INSERT INTO outbox (id, created_at, notification_id, channel, recipient, subject, body, status, attempts,
                    next_attempt_at, sent_at)
SELECT gen_random_uuid()::text, n.created_at, n.id, 'email', 'seeded@example.ru', n.title, n.body, 'sent', 1,
       n.created_at, n.created_at + interval '1 second'
FROM notifications n;
SQL
        say "$backend: VACUUM ANALYZE after the bulk load"
        psql "$db_url" -XAtq -c "VACUUM ANALYZE"
    fi
    local counts
    case $backend in
        sqlite) counts=$(python3 -c 'import json, sqlite3, sys
c = sqlite3.connect(sys.argv[1])
print(json.dumps({t: c.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in ("accounts", "applications", "application_history", "signatures")}))' "${db_url#sqlite://}") ;;
        postgres) counts=$(psql "$db_url" -XAtq -c "SELECT json_build_object('accounts', (SELECT count(*) FROM accounts), 'applications', (SELECT count(*) FROM applications), 'application_history', (SELECT count(*) FROM application_history), 'signatures', (SELECT count(*) FROM signatures), 'events', (SELECT count(*) FROM events), 'notifications', (SELECT count(*) FROM notifications), 'outbox', (SELECT count(*) FROM outbox))") ;;
    esac
    say "$backend: seeded in ${seed_seconds}s: $counts"
    record kind=seed backend="$backend" seconds:="$seed_seconds" counts:="$counts" \
        drafts_file:="$(wc -l <"$seed_dir/drafts.txt")" applications_file:="$(wc -l <"$seed_dir/applications.txt")"

    port=$(free_port)
    ceil_port=$(free_port)
    KABINET_LISTEN=127.0.0.1:$port "$kabinet_bin" serve >"$server_log" 2>&1 &
    server_pid=$!
    pids+=("$server_pid")
    KABINET_LOG= "$bench_bin" ceiling --database-url "$db_url" --listen "127.0.0.1:$ceil_port" >"$ceiling_log" 2>&1 &
    ceiling_pid=$!
    pids+=("$ceiling_pid")
    base=http://127.0.0.1:$port
    api=$base/api/v1
    ceil=http://127.0.0.1:$ceil_port
    wait_http "$base/health" 60 "$server_pid" || die "kabinet serve did not come up: $(tail -n 20 "$server_log")"
    local some_id
    some_id=$(sed -n "$(( ($(wc -l <"$seed_dir/applications.txt") + 1) / 2 ))p" "$seed_dir/applications.txt")
    wait_http "$ceil/row/$some_id" 60 "$ceiling_pid" || die "kabinet-bench ceiling did not come up: $(tail -n 20 "$ceiling_log")"
    server_pids="$server_pid $ceiling_pid"
    say "$backend: server on $base (pid $server_pid), ceiling on $ceil (pid $ceiling_pid)"
    login_writers

    # One login per account for the whole run: a new login ends the account's previous session.
    local heavy_token officer_token
    heavy_token=$(login "$heavy_login" "$bench_password")
    officer_token=$(login "$officer_login" "$officer_password")
    if [[ $backend == postgres ]]; then
        # The logins above are the run's first audit records, and the sealer builds their
        # tree only now, after the VACUUM ANALYZE of the seeded tables: with autovacuum off on
        # this machine, its statements would go on being planned for the empty tables they
        # were then (sequential scans of audit_nodes on every pass). Production's autovacuum
        # analyses them as they grow.
        sealer_caught_up
        psql "$db_url" -XAtq -c "ANALYZE audit_log, audit_leaves, audit_unsealed, audit_nodes, audit_checkpoints"
    fi
    heavy_id=$(case $backend in
        sqlite) python3 -c 'import sqlite3, sys; print(sqlite3.connect(sys.argv[1]).execute("SELECT account_id FROM account_logins WHERE login_key = ?", ("email:" + sys.argv[2],)).fetchone()[0])' "${db_url#sqlite://}" "$heavy_login" ;;
        postgres) psql "$db_url" -XAtq -c "SELECT account_id FROM account_logins WHERE login_key = 'email:$heavy_login'" ;;
    esac)
    [[ -n $heavy_id ]] || die "no account for $heavy_login"

    # The deep page: follow next_cursor from the first page.
    local cursor="" page url_deep
    for ((page = 1; page <= deep_pages; page++)); do
        cursor=$(curl -fsS -m 10 -H "Authorization: Bearer $heavy_token" \
            "$api/applications?limit=20${cursor:+&cursor=$cursor}" | json_field next_cursor) \
            || die "following the list to page $page failed"
        [[ -n $cursor ]] || die "the list of $heavy_login ended before page $page"
        cursor=$(python3 -c 'import sys, urllib.parse; print(urllib.parse.quote(sys.argv[1], safe=""))' "$cursor")
    done
    url_deep="/api/v1/applications?limit=20&cursor=$cursor"

    # Submit and sign: one draft each through curl first; wrk gets the others.
    local submit_id sign_line sign_token
    submit_id=$(tail -n 1 "$seed_dir/drafts.txt")
    local create_body='{"service_code": "passport-replacement", "form_data": {"reason": "age_45"}}'
    local comment_body='{"body": "Приложу справку о доходах завтра."}' sign_body='{"code": "246810"}'
    prepare_sign
    sign_line=$(head -n 1 "$seed_dir/sign.plan")
    sign_token=$(sed -n "$(( $(cut -f2 <<<"$sign_line") + 1 ))p" "$seed_dir/writers.tokens")
    # Create and comment: every writer in turn, on the writer's own submitted applications.
    awk '{ printf "%d\t%d\t/api/v1/applications\n", NR - 1, NR - 1 }' "$seed_dir/writers.tokens" >"$seed_dir/create.plan"
    awk -F'\t' '{ printf "%d\t%d\t/api/v1/applications/%s/comments\n", $1, $1, $2 }' "$seed_dir/comments.txt" >"$seed_dir/comment.plan"
    local comment_line comment_token
    comment_line=$(head -n 1 "$seed_dir/comment.plan")
    comment_token=$(sed -n "$(( $(cut -f2 <<<"$comment_line") + 1 ))p" "$seed_dir/writers.tokens")
    local auth_heavy=(-H "Authorization: Bearer $heavy_token") auth_officer=(-H "Authorization: Bearer $officer_token")
    expect ceiling 200 "$ceil/row/$some_id"
    expect get 200 "${auth_heavy[@]}" "$api/applications/$some_id"
    expect list_first 200 "${auth_heavy[@]}" "$api/applications?limit=20"
    expect list_deep 200 "${auth_heavy[@]}" "$base$url_deep"
    expect queue 200 "${auth_officer[@]}" "$api/agency/queue?limit=20"
    expect ceiling_write 201 -H 'Content-Type: application/json' -d "$create_body" "$ceil/write"
    expect create 201 "${auth_heavy[@]}" -H 'Content-Type: application/json' -d "$create_body" "$api/applications"
    expect submit 200 "${auth_heavy[@]}" -H 'If-Match: "1"' -X POST "$api/applications/$submit_id/submit"
    expect comment 201 -H "Authorization: Bearer $comment_token" -H 'Content-Type: application/json' \
        -d "$comment_body" "$base$(cut -f3 <<<"$comment_line")"
    expect sign 201 -H "Authorization: Bearer $sign_token" -H 'Content-Type: application/json' -H 'If-Match: "1"' \
        -d "$sign_body" "$base$(cut -f3 <<<"$sign_line")"

    say "$backend: warm-up"
    local warm=$duration
    duration=3
    target_url=$ceil
    wrk_run "$backend-warm-ceiling" get.lua BENCH_PATH="/row/{id}" BENCH_IDS="$seed_dir/applications.txt" >/dev/null
    target_url=$base
    wrk_run "$backend-warm-get" get.lua BENCH_TOKEN="$heavy_token" BENCH_PATH="/api/v1/applications/{id}" BENCH_IDS="$seed_dir/applications.txt" >/dev/null
    wrk_run "$backend-warm-list" get.lua BENCH_TOKEN="$heavy_token" BENCH_PATH="/api/v1/applications?limit=20" >/dev/null
    wrk_run "$backend-warm-queue" get.lua BENCH_TOKEN="$officer_token" BENCH_PATH="/api/v1/agency/queue?limit=20" >/dev/null
    duration=$warm

    # Reads: get and the ceiling take the next id of applications.txt at every request.
    target_url=$ceil
    measure ceiling read get.lua \
        BENCH_PATH="/row/{id}" BENCH_IDS="$seed_dir/applications.txt"
    target_url=$base
    measure get read get.lua \
        BENCH_TOKEN="$heavy_token" BENCH_PATH="/api/v1/applications/{id}" BENCH_IDS="$seed_dir/applications.txt"
    measure list_first read get.lua \
        BENCH_TOKEN="$heavy_token" BENCH_PATH="/api/v1/applications?limit=20"
    measure list_deep read get.lua \
        BENCH_TOKEN="$heavy_token" BENCH_PATH="$url_deep"
    measure queue read get.lua \
        BENCH_TOKEN="$officer_token" BENCH_PATH="/api/v1/agency/queue?limit=20"
    # Diagnostic: the server's own stack (middleware, no auth, no database).
    measure health peak get.lua BENCH_PATH="/health"
    # The ceiling once more, after the reads: how much the machine drifted meanwhile.
    target_url=$ceil
    measure ceiling_again peak get.lua \
        BENCH_PATH="/row/{id}" BENCH_IDS="$seed_dir/applications.txt"

    say "$backend: query plans"
    case $backend in
        sqlite) sqlite_plans ;;
        postgres) pg_plans ;;
    esac

    # Writes, after the reads (they add rows to the lists, the queue and the audit log).
    printf '%s\n' "$heavy_token" >"$seed_dir/heavy.tokens"
    target_url=$ceil
    measure_write ceiling_write 201 - create.lua BENCH_PATH=/write BENCH_BODY="$create_body"
    target_url=$base
    measure_write create 201 - plan.lua BENCH_PLAN="$seed_dir/create.plan" \
        BENCH_TOKENS="$seed_dir/writers.tokens" BENCH_BODY="$create_body" BENCH_CYCLE=1
    measure_write submit 200 prepare_submit plan.lua BENCH_TOKENS="$seed_dir/heavy.tokens" BENCH_IF_MATCH='"1"'
    measure_write comment 201 - plan.lua BENCH_PLAN="$seed_dir/comment.plan" \
        BENCH_TOKENS="$seed_dir/writers.tokens" BENCH_BODY="$comment_body" BENCH_CYCLE=1
    measure_write sign 201 prepare_sign plan.lua BENCH_TOKENS="$seed_dir/writers.tokens" \
        BENCH_BODY="$sign_body" BENCH_IF_MATCH='"1"' THREADS=connections
    # The write ceiling once more, after the writes: the writes' ratios are over the mean of
    # both (the machine's speed drifts over the minutes between them, as the reads' does).
    target_url=$ceil
    measure_write ceiling_write_again 201 - create.lua BENCH_PATH=/write BENCH_BODY="$create_body" PEAKS_ONLY

    stop_servers
    if grep -qE ' ERROR |panicked' "$server_log" "$ceiling_log"; then
        say "$backend: the server or ceiling log has errors: $server_log, $ceiling_log"
    fi

    unset DATABASE_URL
}

# Keys of the run, as production configures them (the seeder hashes the signing codes with
# the index key): generated here, never written anywhere but this process's environment.
KABINET_SIGNING_KEYS="bench:$(openssl genpkey -algorithm ed25519 -outform DER | base64 -w0)"
KABINET_PII_KEYS="bench:$(head -c 32 /dev/urandom | base64 -w0)"
KABINET_PII_INDEX_KEY=$(head -c 32 /dev/urandom | base64 -w0)
export KABINET_SIGNING_KEYS KABINET_PII_KEYS KABINET_PII_INDEX_KEY

commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
dirty=false
[[ -n $(git status --porcelain --untracked-files=no 2>/dev/null) ]] && dirty=true
record kind=meta command="$command_line" commit="$commit" dirty:="$dirty" started:="$started" \
    citizens:="$citizens" applications:="$applications" drafts:="$drafts" duration:="$duration" \
    threads:="$threads" connections:="$connections" write_connections="$write_connections" \
    writers:="$writers" sign_drafts:="$sign_drafts" deep_pages:="$deep_pages" loadavg_start="$(cat /proc/loadavg)" \
    wrk_version="$(wrk --version 2>&1 | head -n 1 | cut -d' ' -f1-2)" \
    postgres_version="$(psql "$pg_server/postgres" -XAtq -c 'SHOW server_version' 2>/dev/null || echo unknown)" \
    sqlite_version="$(python3 -c 'import sqlite3; print(sqlite3.sqlite_version)')"

for backend in $backends; do
    say "== $backend =="
    run_backend
done

record kind=end finished:="$(date +%s)" seconds:="$(( $(date +%s) - started ))" loadavg_end="$(cat /proc/loadavg)"
say "figures in $results (raw outputs in $raw)"
if [[ -n $doc ]]; then
    python3 scripts/bench_report.py "$results" -o "$doc"
    say "wrote $doc"
fi
say "done in $(( $(date +%s) - started ))s"
if ((${#failures[@]})); then
    say "FAILED: answers other than the expected status (see the report's Targets):"
    printf '  %s\n' "${failures[@]}" >&2
    exit 1
fi
