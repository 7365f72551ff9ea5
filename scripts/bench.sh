#!/usr/bin/env bash
# HTTP benchmark (`make bench`): for each backend (SQLite, then PostgreSQL) a fresh database
# with the benchmark's volume (kabinet-bench seed: 10,000 citizens, 200,000 applications with
# their history, 30,000 drafts of one heavy citizen), a release `kabinet serve` and the bare
# actix-web + diesel ceiling (`kabinet-bench ceiling`), both on loopback; then every scenario
# driven by wrk at its peak and, for the reads, again by wrk paced to half that rate
# (scripts/bench/common.lua: evenly spaced requests). PostgreSQL query
# plans, SQLite query plans and PostgreSQL's seq-scan counters go with the figures into one
# results file, from which scripts/bench_report.py writes docs/benchmarks.md.
#
# Builds nothing: `make bench` installs wrk and builds the release binaries first.
# Only 127.0.0.1 is contacted; every run is bounded in time; servers stop on exit.
#
# Environment (all optional):
#   KABINET_BIN / KABINET_BENCH_BIN   binaries (default: ${CARGO_TARGET_DIR:-target}/release/…)
#   BENCH_BACKENDS        "sqlite postgres" (default), or one of them
#   BENCH_POSTGRES        server URL without database (default postgres://postgres@127.0.0.1:5432);
#                         the database kabinet_bench on it is dropped and created again
#   BENCH_CITIZENS / BENCH_APPLICATIONS / BENCH_DRAFTS   volume (10000 / 200000 / 30000)
#   BENCH_DURATION        seconds per measured run (default 10)
#   BENCH_THREADS / BENCH_CONNECTIONS   wrk, at peak and at half peak (default 2 / 32)
#   BENCH_DEEP_PAGES      pages followed to reach the deep cursor (default 50)
#   BENCH_QUIET_WAIT      seconds to wait at most, before each run, for other work on the machine
#                         to drop under a third of a core (default 45)
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
drafts=${BENCH_DRAFTS:-30000}
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

for tool in curl python3 wrk timeout flock; do
    command -v "$tool" >/dev/null || die "$tool is required (make bench installs wrk)"
done
[[ -x $kabinet_bin ]] || die "$kabinet_bin not found; run 'make bench' (or cargo build --release -p kabinet-api --bin kabinet)"
[[ -x $bench_bin ]] || die "$bench_bin not found; run 'make bench' (or cargo build --release -p kabinet-tests --bin kabinet-bench)"
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

scans_before=
scans_mark() { [[ $backend == postgres ]] && scans_before=$(pg_scans) || true; }
scans_record() { # OP: tables whose seq_scan grew since scans_mark
    [[ $backend == postgres ]] || return 0
    sleep 2 # backends flush their statistics at most once a second when idle
    local after
    after=$(pg_scans)
    record kind=scans backend="$backend" op="$1" tables:="$(python3 -c '
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
print(json.dumps({k: v for k, v in out.items() if v["seq_scan"] or v["idx_scan"]}))
' "$scans_before" "$after")"
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

# measure OP KIND SCRIPT [VAR=value …]: wrk at peak, then (KIND read) wrk paced to half the
# peak throughput; KIND peak: the peak run only.
measure() {
    local op=$1 kind=$2 script=$3
    shift 3
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
    record kind=run backend="$backend" op="$op" mode=peak tool=wrk loadavg_before="$load" \
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
        record kind=run backend="$backend" op="$op" mode=half tool=wrk loadavg_before="$load" \
            quiet_wait:="$quiet" cpu:="$cpu" threads:="$threads" connections:="$connections" \
            target_rps:="$rate" figures:="$half"
    fi
    scans_record "$op"
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
    local -a names=("list first page" "list deep page" "officer queue" "get one")
    local -a queries=(
        "SELECT * FROM applications WHERE owner_id = '$heavy_id' ORDER BY created_at DESC, id DESC LIMIT 21"
        "SELECT * FROM applications WHERE owner_id = '$heavy_id' AND (created_at, id) < ('$at', '$deep_id') ORDER BY created_at DESC, id DESC LIMIT 21"
        "SELECT * FROM applications WHERE agency_code = 'mvd' AND in_queue = true ORDER BY submitted_at, id LIMIT 21"
        "SELECT * FROM applications WHERE id = '$some_id'"
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
    say "$backend: migrate and demo catalog ($db_url)"
    timeout 300 "$kabinet_bin" migrate >"$raw/$backend-setup.log" 2>&1 || die "migrate failed: $(tail -n 5 "$raw/$backend-setup.log")"
    timeout 300 "$kabinet_bin" seed-demo >>"$raw/$backend-setup.log" 2>&1 || die "seed-demo failed: $(tail -n 5 "$raw/$backend-setup.log")"
    say "$backend: seeding $citizens citizens, $applications applications, $drafts drafts"
    t0=$(date +%s)
    timeout 3600 "$bench_bin" seed --database-url "$db_url" --out "$seed_dir" \
        --citizens "$citizens" --applications "$applications" --drafts "$drafts" 2>"$raw/$backend-seed.log" \
        || die "seed failed: $(tail -c 600 "$raw/$backend-seed.log")"
    local seed_seconds=$(( $(date +%s) - t0 ))
    if [[ $backend == postgres ]]; then
        say "$backend: VACUUM ANALYZE after the bulk load"
        psql "$db_url" -XAtq -c "VACUUM ANALYZE" 
    fi
    local counts
    case $backend in
        sqlite) counts=$(python3 -c 'import json, sqlite3, sys
c = sqlite3.connect(sys.argv[1])
print(json.dumps({t: c.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in ("accounts", "applications", "application_history")}))' "${db_url#sqlite://}") ;;
        postgres) counts=$(psql "$db_url" -XAtq -c "SELECT json_build_object('accounts', (SELECT count(*) FROM accounts), 'applications', (SELECT count(*) FROM applications), 'application_history', (SELECT count(*) FROM application_history))") ;;
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

    # One login per account for the whole run: a new login ends the account's previous session.
    local heavy_token officer_token
    heavy_token=$(login "$heavy_login" "$bench_password")
    officer_token=$(login "$officer_login" "$officer_password")
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

    # Submit: one draft through curl first (what does it answer?); wrk gets the others.
    local submit_id
    submit_id=$(tail -n 1 "$seed_dir/drafts.txt")
    head -n -1 "$seed_dir/drafts.txt" >"$seed_dir/drafts-wrk.txt"
    local create_body='{"service_code": "passport-replacement", "form_data": {"reason": "age_45"}}'
    local auth_heavy=(-H "Authorization: Bearer $heavy_token") auth_officer=(-H "Authorization: Bearer $officer_token")
    expect ceiling 200 "$ceil/row/$some_id"
    expect get 200 "${auth_heavy[@]}" "$api/applications/$some_id"
    expect list_first 200 "${auth_heavy[@]}" "$api/applications?limit=20"
    expect list_deep 200 "${auth_heavy[@]}" "$base$url_deep"
    expect queue 200 "${auth_officer[@]}" "$api/agency/queue?limit=20"
    expect create 201 "${auth_heavy[@]}" -H 'Content-Type: application/json' -d "$create_body" "$api/applications"
    # Submit is measured whatever it answers; the report marks a non-2xx answer.
    check submit 200 "${auth_heavy[@]}" -H 'If-Match: "1"' -X POST "$api/applications/$submit_id/submit" >/dev/null

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

    # Writes, after the reads (they add rows to the heavy citizen's list and the queue).
    target_url=$base
    measure create peak create.lua \
        BENCH_TOKEN="$heavy_token" BENCH_PATH="/api/v1/applications" BENCH_BODY="$create_body"
    measure submit peak submit.lua \
        BENCH_TOKEN="$heavy_token" BENCH_IDS="$seed_dir/drafts-wrk.txt"

    stop_servers
    if grep -qE ' ERROR |panicked' "$server_log" "$ceiling_log"; then
        say "$backend: the server or ceiling log has errors: $server_log, $ceiling_log"
    fi

    unset DATABASE_URL
}

commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
dirty=false
[[ -n $(git status --porcelain --untracked-files=no 2>/dev/null) ]] && dirty=true
record kind=meta command="$command_line" commit="$commit" dirty:="$dirty" started:="$started" \
    citizens:="$citizens" applications:="$applications" drafts:="$drafts" duration:="$duration" \
    threads:="$threads" connections:="$connections" \
    deep_pages:="$deep_pages" loadavg_start="$(cat /proc/loadavg)" \
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
