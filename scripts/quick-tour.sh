#!/usr/bin/env bash
# Runs the README's "Quick tour" as written: takes the ```sh block(s) of that section and
# executes them with bash against a throw-away Kabinet server (fresh SQLite data directory,
# demo data, development mailbox) on a free loopback port. Passes when the tour runs
# without an error and its last line of output is `approved`. Builds nothing:
# `make quick-tour` builds the binary.
#
# Environment (optional): KABINET_BIN (default ${CARGO_TARGET_DIR:-target}/debug/kabinet),
# QUICK_TOUR_TIMEOUT (seconds for the tour itself, default 120).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

kabinet_bin=${KABINET_BIN:-${CARGO_TARGET_DIR:-target}/debug/kabinet}
tour_timeout=${QUICK_TOUR_TIMEOUT:-120}

say() { printf 'quick-tour.sh: %s\n' "$*" >&2; }
die() { say "error: $*"; exit 1; }

[[ -x $kabinet_bin ]] || die "$kabinet_bin not found; run 'cargo build --bin kabinet' (or 'make quick-tour')"
for tool in curl jq python3; do
    command -v "$tool" >/dev/null || die "$tool is required (the tour uses curl and jq)"
done

# The section's shell blocks, in order: from "## Quick tour" to the next "## " heading.
tour=$(awk '
    /^## / { in_section = ($0 == "## Quick tour") }
    in_section && /^```/ { if (in_block) { in_block = 0 } else if ($0 == "```sh") { in_block = 1 }; next }
    in_section && in_block { print }
' README.md)
[[ -n $tour ]] || die "README.md has no \`\`\`sh block under '## Quick tour'"

port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
work=$(mktemp -d "${TMPDIR:-/tmp}/kabinet-quick-tour.XXXXXX")
server_pid=""
cleanup() {
    local status=$?
    if [[ -n $server_pid ]] && kill -0 "$server_pid" 2>/dev/null; then
        kill -TERM "$server_pid" 2>/dev/null || true
        for _ in $(seq 1 50); do
            kill -0 "$server_pid" 2>/dev/null || break
            sleep 0.1
        done
        kill -KILL "$server_pid" 2>/dev/null || true
        wait "$server_pid" 2>/dev/null || true
    fi
    if (( status != 0 )) && [[ -f $work/server.log ]]; then
        say "last lines of the server's log:"
        tail -n 30 "$work/server.log" >&2 || true
    fi
    rm -rf "$work"
    exit "$status"
}
trap cleanup EXIT

# What `make run` gives a developer, on a fresh data directory.
unset DATABASE_URL KABINET_CONFIG
export KABINET_LISTEN="127.0.0.1:$port"
export KABINET_DATA_DIR="$work/data"
export KABINET_DEMO=1
export KABINET_ENV=development
export KABINET_DEV_MAILBOX="$work/data/mailbox.jsonl"
export KABINET_LOG=${KABINET_LOG:-info}
export KABINET_SHUTDOWN_TIMEOUT_SECS=5
export NO_PROXY="127.0.0.1,localhost${NO_PROXY:+,$NO_PROXY}" no_proxy="127.0.0.1,localhost${no_proxy:+,$no_proxy}"
mkdir -p "$KABINET_DATA_DIR"

base="http://127.0.0.1:$port"
say "starting $kabinet_bin serve on $base"
"$kabinet_bin" serve >"$work/server.log" 2>&1 &
server_pid=$!
deadline=$(( $(date +%s) + 60 ))
until curl -fsS --max-time 2 -o /dev/null "$base/ready" 2>/dev/null; do
    kill -0 "$server_pid" 2>/dev/null || die "the server exited before it was ready"
    (( $(date +%s) < deadline )) || die "$base/ready did not answer within 60 s"
    sleep 0.5
done

say "running the README's quick tour"
mkdir -p "$work/tour"
(cd "$work/tour" && BASE=$base MAILBOX=$KABINET_DEV_MAILBOX timeout "$tour_timeout" bash -euo pipefail -c "$tour") \
    | tee "$work/tour.out" || die "the quick tour failed (its output is above, the server's log below)"
last=$(tail -n 1 "$work/tour.out")
[[ $last == approved ]] || die "the quick tour ended with '$last', not 'approved'"
say "the quick tour works: the application was approved"
