#!/usr/bin/env bash
# Generated clients: proves that openapi/openapi.json makes working clients.
#   TypeScript: types from openapi-typescript, type-checked with `tsc --strict` together
#               with a scenario written against them (tools/clients/src/scenario.ts,
#               openapi-fetch), which then runs on Node against a throw-away server
#               (loopback, free port, fresh SQLite data directory, demo data, a
#               development mailbox for the registration codes).
#   Python:     a client from openapi-python-client; any warning it prints fails the run.
#               A short check (tools/clients/smoke.py) then uses it against the same server.
# Builds nothing: `make clients` builds the binary, the venv and tools/clients/node_modules.
# Output goes to tools/clients/generated/ (ignored by git).
#
# Environment (all optional):
#   KABINET_BIN              server binary           (default: ${CARGO_TARGET_DIR:-target}/debug/kabinet)
#   OPENAPI_PYTHON_CLIENT    generator CLI           (default: .venv/bin/openapi-python-client)
#   CLIENTS_REPORT_DIR       where the server log goes (default: target/clients)
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

kabinet_bin=${KABINET_BIN:-${CARGO_TARGET_DIR:-target}/debug/kabinet}
python_generator=${OPENAPI_PYTHON_CLIENT:-.venv/bin/openapi-python-client}
report_dir=${CLIENTS_REPORT_DIR:-target/clients}
tools=tools/clients
generated=$tools/generated
spec=openapi/openapi.json

say() { printf 'clients.sh: %s\n' "$*" >&2; }
die() { say "error: $*"; exit 1; }

[[ -x $kabinet_bin ]] || die "$kabinet_bin not found or not executable; run 'make clients'"
[[ -x $python_generator ]] || die "$python_generator not found; run 'make venv'"
[[ -x $tools/node_modules/.bin/tsc ]] || die "$tools/node_modules is not installed; run 'make clients'"
command -v node >/dev/null || die "node is required (Node.js 18 or later)"
command -v curl >/dev/null || die "curl is required"

rm -rf "$generated"
mkdir -p "$generated" "$report_dir"
report_dir=$(cd "$report_dir" && pwd)

# --- TypeScript: generate, type-check strictly, compile. -----------------------------------
# An object schema without properties (a service's form schema, an application's form)
# holds any JSON object: `unknown` values rather than openapi-typescript's default `never`.
"$tools/node_modules/.bin/openapi-typescript" "$spec" --empty-objects-unknown \
    --output "$generated/schema.d.ts" >/dev/null
(cd "$tools" && node_modules/.bin/tsc --project tsconfig.json --strict)
say "TypeScript types generated and the scenario type-checked (tsc --strict)"

# --- Python: generate; a warning fails. -----------------------------------------------------
# The generator formats its output with ruff, which the venv has beside it.
python_log="$report_dir/openapi-python-client.log"
PATH="$(cd "$(dirname "$python_generator")" && pwd):$PATH" "$python_generator" generate \
    --path "$spec" --config "$tools/openapi-python-client.yaml" \
    --output-path "$generated/python" >"$python_log" 2>&1 \
    || { cat "$python_log" >&2; die "openapi-python-client failed"; }
# It prints only "Generating <dir>" when all went well.
if grep -v '^Generating ' "$python_log" | grep -q '[^[:space:]]'; then
    cat "$python_log" >&2
    die "openapi-python-client printed warnings (above): fix the spec so that it generates cleanly"
fi
"${PYTHON:-python3}" -m compileall -q "$generated/python" >/dev/null \
    || die "the generated Python client does not compile"
say "Python client generated without warnings ($generated/python)"

# --- The scenario, against a throw-away server. ----------------------------------------------
. scripts/throwaway-server.sh
throwaway_prepare clients "$report_dir/server.log"
throwaway_start

# The clients were generated from the committed document: it must be what the server serves.
curl -fsS --max-time 10 -o "$work/served.json" "$base/api-docs/openapi.json" \
    || die "cannot fetch $base/api-docs/openapi.json"
python3 -c 'import json, sys; sys.exit(json.load(open(sys.argv[1])) != json.load(open(sys.argv[2])))' \
    "$work/served.json" "$spec" \
    || die "/api-docs/openapi.json differs from $spec: run 'make openapi' and commit it"

KABINET_URL=$base timeout 120 node "$generated/dist/scenario.js" || die "the TypeScript scenario failed"

KABINET_URL=$base PYTHONPATH="$generated/python" timeout 60 "$(dirname "$python_generator")/python" "$tools/smoke.py" \
    || die "the generated Python client failed"
