#!/usr/bin/env bash
# Two nodes, one database, under load (`make bench-cluster`, issue 17 item 5): a fresh
# PostgreSQL database with a modest volume (kabinet-bench seed), two release `kabinet serve`
# nodes in production mode with the same generated keys, HAProxy in front of them on
# loopback; scripts/bench_cluster.py drives a mixed load (reads, creates, comments, submits,
# SSE subscribers) through HAProxy, sends SIGKILL to node A mid-run, then checks that every
# acknowledged write is in the database and that every subscriber got each of its events
# exactly once after resuming; `kabinet audit verify` checks the audit log. The figures go
# into their own section of docs/benchmarks.md. Exits 1 when a check fails.
#
# Builds nothing: `make bench-cluster` installs haproxy and builds the release binaries first.
# Only 127.0.0.1 is contacted; every step is bounded in time; processes stop on exit.
#
# Environment (all optional):
#   KABINET_BIN / KABINET_BENCH_BIN   binaries (default: ${CARGO_TARGET_DIR:-target}/release/…)
#   BENCH_POSTGRES        server URL without database (default postgres://postgres@127.0.0.1:5432);
#                         the database kabinet_cluster on it is dropped and created again
#   CLUSTER_DURATION      seconds of load (default 40); CLUSTER_KILL_AT: when node A dies (default 15)
#   CLUSTER_WRITERS / CLUSTER_SUBSCRIBERS / CLUSTER_READERS / CLUSTER_SUBMITTERS   (16 / 16 / 4 / 2)
#   CLUSTER_APPLICATIONS / CLUSTER_DRAFTS   seeded applications and drafts to submit (20000 / 20000)
#   BENCH_WORK_DIR        raw outputs (default target/bench-cluster)
#   BENCH_DOC             the report (default docs/benchmarks.md; empty: no report)
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
target_dir=${CARGO_TARGET_DIR:-target}
kabinet_bin=${KABINET_BIN:-$target_dir/release/kabinet}
bench_bin=${KABINET_BENCH_BIN:-$target_dir/release/kabinet-bench}
pg_server=${BENCH_POSTGRES:-postgres://postgres@127.0.0.1:5432}
db_url=$pg_server/kabinet_cluster
duration=${CLUSTER_DURATION:-40}
kill_at=${CLUSTER_KILL_AT:-15}
work=${BENCH_WORK_DIR:-$target_dir/bench-cluster}
doc=${BENCH_DOC-docs/benchmarks.md}

started=$(date +%s)
say() { printf '[cluster %4ss] %s\n' "$(( $(date +%s) - started ))" "$*" >&2; }
die() { say "error: $*"; exit 1; }

for tool in curl python3 psql pg_isready haproxy openssl timeout flock; do
    command -v "$tool" >/dev/null || die "$tool is required (make bench-cluster installs haproxy)"
done
[[ -x $kabinet_bin && -x $bench_bin ]] || die "build first: make bench-cluster (release kabinet and kabinet-bench)"
pg_isready -q -d "$pg_server" || die "PostgreSQL is not reachable at $pg_server"

lock=${TMPDIR:-/tmp}/kabinet-bench.lock
exec 9>"$lock"
flock -n 9 || die "another benchmark is running on this machine (it holds $lock)"

rm -rf "$work"
mkdir -p "$work"
work=$(cd "$work" && pwd)
pids=()
cleanup() {
    local pid
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
wait_http() { # URL SECONDS
    local i
    for ((i = 0; i < $2 * 10; i++)); do
        curl -fsS -m 2 -o /dev/null "$1" 2>/dev/null && return 0
        sleep 0.1
    done
    return 1
}

# Keys shared by both nodes, generated for this run only (production requires them).
KABINET_SIGNING_KEYS="cluster:$(openssl genpkey -algorithm ed25519 -outform DER | base64 -w0)"
KABINET_PII_KEYS="cluster:$(head -c 32 /dev/urandom | base64 -w0)"
KABINET_PII_INDEX_KEY=$(head -c 32 /dev/urandom | base64 -w0)
export KABINET_SIGNING_KEYS KABINET_PII_KEYS KABINET_PII_INDEX_KEY
export DATABASE_URL=$db_url KABINET_LOG=warn KABINET_WORKERS=2 KABINET_ACCESS_TOKEN_TTL_SECS=3600
quota=1000000000/1d
export KABINET_RATE_LOGIN_PER_IP=$quota KABINET_RATE_LOGIN_PER_ACCOUNT=$quota \
    KABINET_RATE_CREATES_PER_ACCOUNT=$quota KABINET_RATE_SECOND_FACTOR_PER_ACCOUNT=$quota

say "database kabinet_cluster: migrate, demo catalog, seed"
psql "$pg_server/postgres" -XAtq -c "DROP DATABASE IF EXISTS kabinet_cluster WITH (FORCE)"
psql "$pg_server/postgres" -XAtq -c "CREATE DATABASE kabinet_cluster"
mkdir -p "$work/setup"
KABINET_DATA_DIR=$work/setup timeout 300 "$kabinet_bin" migrate >"$work/setup.log" 2>&1 || die "migrate: $(tail -n 5 "$work/setup.log")"
KABINET_DATA_DIR=$work/setup timeout 300 "$kabinet_bin" seed-demo >>"$work/setup.log" 2>&1 || die "seed-demo: $(tail -n 5 "$work/setup.log")"
timeout 1200 "$bench_bin" seed --database-url "$db_url" --out "$work/seed" --citizens 2000 \
    --applications "${CLUSTER_APPLICATIONS:-20000}" --drafts "${CLUSTER_DRAFTS:-20000}" --writers 64 --sign-drafts 0 \
    2>"$work/seed.log" || die "seed: $(tail -c 600 "$work/seed.log")"
psql "$db_url" -XAtq -c "VACUUM ANALYZE"

# Two nodes in production mode, each with a data directory of its own.
node_a_port=$(free_port)
node_b_port=$(free_port)
proxy_port=$(free_port)
start_node() { # NAME PORT
    mkdir -p "$work/$1"
    KABINET_ENV=production KABINET_DATA_DIR=$work/$1 KABINET_LISTEN=127.0.0.1:$2 \
        "$kabinet_bin" serve >"$work/$1.log" 2>&1 &
    pids+=("$!")
    wait_http "http://127.0.0.1:$2/health" 60 || die "node $1 did not come up: $(tail -n 20 "$work/$1.log")"
}
start_node a "$node_a_port"
node_a_pid=${pids[-1]}
start_node b "$node_b_port"

# HAProxy retries a request on the other node only when the connection to a node failed
# (nothing was sent): a request in flight on the killed node is never replayed (a POST
# might have committed), so it counts as an error of the failover.
cat >"$work/haproxy.cfg" <<EOF
global
    maxconn 4096
defaults
    mode http
    timeout connect 2s
    timeout client 60s
    timeout server 60s
    timeout tunnel 1h
    retries 2
    option redispatch
    retry-on conn-failure
frontend kabinet
    bind 127.0.0.1:$proxy_port
    default_backend nodes
backend nodes
    balance roundrobin
    option httpchk GET /health
    http-response set-header X-Served-By %s
    server a 127.0.0.1:$node_a_port check inter 500ms fall 2 rise 2
    server b 127.0.0.1:$node_b_port check inter 500ms fall 2 rise 2
EOF
haproxy -f "$work/haproxy.cfg" -db >"$work/haproxy.log" 2>&1 &
pids+=("$!")
wait_http "http://127.0.0.1:$proxy_port/health" 30 || die "HAProxy did not come up: $(tail -n 20 "$work/haproxy.log")"
say "nodes a (pid $node_a_pid) and b behind HAProxy on 127.0.0.1:$proxy_port"

status=0
say "mixed load for ${duration}s, SIGKILL to node a at ${kill_at}s"
timeout $((duration + 180)) python3 scripts/bench_cluster.py load --proxy "http://127.0.0.1:$proxy_port" \
    --db-url "$db_url" --seed "$work/seed" --kill-pid "$node_a_pid" --kill-at "$kill_at" \
    --duration "$duration" --writers "${CLUSTER_WRITERS:-16}" --subscribers "${CLUSTER_SUBSCRIBERS:-16}" \
    --readers "${CLUSTER_READERS:-4}" --submitters "${CLUSTER_SUBMITTERS:-2}" --out "$work/results.json" || status=1
[[ -s $work/results.json ]] || die "the load wrote no results"

say "kabinet audit verify"
sleep 3 # the surviving node seals what the killed one left (KABINET_AUDIT_SEAL_MS)
audit_ok=true
KABINET_DATA_DIR=$work/setup timeout 300 "$kabinet_bin" audit verify >"$work/audit.txt" 2>&1 || { audit_ok=false; status=1; }
say "audit verify: $(tr '\n' ' ' <"$work/audit.txt" | head -c 300)"

python3 - "$work/results.json" "$audit_ok" "$(tr '\n' ' ' <"$work/audit.txt" | head -c 300)" \
    "$(git rev-parse --short HEAD 2>/dev/null || echo unknown)" "$(haproxy -v 2>/dev/null | head -n 1 | cut -d' ' -f3)" \
    "${CLUSTER_WRITERS:-16}" "${CLUSTER_READERS:-4}" "${CLUSTER_SUBMITTERS:-2}" <<'PY'
import datetime, json, sys
path, ok, audit, commit, haproxy, writers, readers, submitters = sys.argv[1:]
r = json.load(open(path))
r["meta"] = {"audit_ok": ok == "true", "audit_verify": audit.strip(), "commit": commit, "haproxy": haproxy,
             "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
             "writers": writers, "readers": readers, "submitters": submitters}
json.dump(r, open(path, "w"), indent=1)
PY
if [[ -n $doc ]]; then
    python3 scripts/bench_cluster.py report "$work/results.json" --doc "$doc"
    say "wrote its section of $doc"
fi
((status == 0)) || say "FAILED: see $work/results.json and $work/audit.txt"
exit "$status"
