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

# What `make run` gives a developer, on a fresh data directory.
. scripts/throwaway-server.sh
throwaway_prepare quick-tour
throwaway_start

say "running the README's quick tour"
mkdir -p "$work/tour"
(cd "$work/tour" && BASE=$base MAILBOX=$KABINET_DEV_MAILBOX timeout "$tour_timeout" bash -euo pipefail -c "$tour") \
    | tee "$work/tour.out" || die "the quick tour failed (its output is above, the server's log below)"
last=$(tail -n 1 "$work/tour.out")
[[ $last == approved ]] || die "the quick tour ended with '$last', not 'approved'"
say "the quick tour works: the application was approved"
