# Kabinet — developer and CI entry points. `make help` lists the targets.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help
# Every step runs in order; cargo parallelises inside each step.
.NOTPARALLEL:

CARGO      ?= cargo
PYTHON     ?= python3
VENV       := .venv
VENV_STAMP := $(VENV)/.requirements-ci.stamp
TARGET_DIR := $(or $(CARGO_TARGET_DIR),target)
KABINET    := $(TARGET_DIR)/debug/kabinet
SPEC       := openapi/openapi.json
# Spectral, pinned by tools/spectral/package-lock.json and installed there by `npm ci`.
SPECTRAL_DIR   := tools/spectral
SPECTRAL       := $(SPECTRAL_DIR)/node_modules/.bin/spectral
SPECTRAL_STAMP := $(SPECTRAL_DIR)/node_modules/.installed.stamp
# openapi-typescript, openapi-fetch and TypeScript for `make clients`, pinned the same way.
CLIENTS_DIR    := tools/clients
CLIENTS_STAMP  := $(CLIENTS_DIR)/node_modules/.installed.stamp
# Optic, pinned by tools/api-diff/package-lock.json, finds breaking changes (make api-diff).
API_DIFF_DIR   := tools/api-diff
OPTIC          := $(API_DIFF_DIR)/node_modules/.bin/optic
API_DIFF_STAMP := $(API_DIFF_DIR)/node_modules/.installed.stamp
# Optional parts that CI and release builds compile in (S3 document storage); `make run`
# and `make test` build without them, which is faster.
FEATURES   := --features kabinet-api/s3

# The steps of `make ci`, in order; each is also a target of its own. The lint of the
# committed spec and the comparison with the released spec (api-diff) need no build, so
# they run beside other steps (below); openapi-check proves that the linted file is what the
# code serves; clients then proves it generates working TypeScript and Python clients.
CI_STEPS := fmt-check lint-build test-ci openapi-check clients quick-tour schemathesis
# Steps that need no Rust build run beside a step that leaves part of the two cores idle,
# their output held back until it is done: beside lint-build the spec's lint and installing
# the Python and Node tools that later steps use (mostly waiting on the disk); beside
# schemathesis (one Python worker and a server) the breaking-change check, whose Optic diff
# of the whole spec is half a minute of one thread, and would slow the compile by as much.
CI_BESIDE_BUILD := spectral venv clients-install
CI_BESIDE_SCHEMATHESIS := api-diff

# `make ci` lints while it builds: cargo runs clippy-driver in rustc's place for the
# workspace's own crates (RUSTC_WORKSPACE_WRAPPER, which is how `cargo clippy` runs it too,
# with CLIPPY_ARGS in cargo-clippy's encoding), so the one debug build of every target is also
# the lint, instead of clippy's check build of the whole tree followed by a second, full build.
# Every later step of the run keeps the same wrapper (cargo fingerprints it) and runs the
# kabinet binary that build made: `cargo build --bin kabinet` alone would unify the
# dependencies' features without the tests' and compile about a hundred crates again.
CLIPPY_DRIVER := $(shell command -v clippy-driver 2>/dev/null)
CI_CLIPPY_ARGS := -D__CLIPPY_HACKERY__warnings__CLIPPY_HACKERY__
ci lint-build: export RUSTC_WORKSPACE_WRAPPER = $(CLIPPY_DRIVER)
ci lint-build: export CLIPPY_ARGS = $(CI_CLIPPY_ARGS)
ci: export KABINET_BUILD = $(CARGO) build --workspace --all-targets $(FEATURES) -q
# How the targets that run the binary build it first.
KABINET_BUILD ?= $(CARGO) build $(FEATURES) --bin kabinet

.PHONY: help run test ci exit-check fmt-check clippy pg-check browser-deps test-ci openapi openapi-check \
        lint-build spectral spectral-install clients clients-install api-diff api-diff-install api-release quick-tour \
        schemathesis venv bench bench-auth bench-documents bench-events bench-cluster clean

help:
	@echo "make run            build and serve on \$${KABINET_LISTEN:-127.0.0.1:8080} (SQLite, demo data)"
	@echo "make test           unit and HTTP tests (SQLite; also PostgreSQL if KABINET_TEST_POSTGRES is set)"
	@echo "make ci             $(CI_STEPS) (beside lint-build: $(CI_BESIDE_BUILD); beside schemathesis: $(CI_BESIDE_SCHEMATHESIS))"
	@echo "make lint-build     build every target with clippy linting as it compiles (what make ci runs for clippy)"
	@echo "make browser-deps   install Debian's chromium (headless) for the browser test, if missing"
	@echo "make openapi        regenerate $(SPEC) from the code"
	@echo "make openapi-check  validate $(SPEC) and check it matches the code"
	@echo "make spectral       lint $(SPEC) with Spectral and .spectral.yaml (warnings fail too)"
	@echo "make clients        generate TypeScript and Python clients from $(SPEC) and run them against a throw-away server"
	@echo "make api-diff       fail on a breaking change since openapi/released/openapi.json (Optic)"
	@echo "make api-release    make the current spec the released one (then commit and tag api-vX.Y.Z)"
	@echo "make quick-tour     run the README's Quick tour (curl and jq) against a throw-away server"
	@echo "make schemathesis   fuzz a throw-away local server against its OpenAPI document"
	@echo "make bench          HTTP benchmark on SQLite and PostgreSQL -> docs/benchmarks.md, then bench-auth"
	@echo "make bench-auth     Criterion auth benchmarks (release build; figures in target/criterion)"
	@echo "make bench-documents Criterion 5 MB upload/download throughput against the disk floor"
	@echo "make bench-events   SSE streams one node holds and event fan-out latency (Criterion)"
	@echo "make bench-cluster  two nodes behind HAProxy under load, one killed mid-run: lost writes, audit, SSE resume"
	@echo "make exit-check     a process exiting while its threads open PostgreSQL sessions exits cleanly (200 runs, vs. without the guard)"
	@echo "make venv           Python tools for CI in $(VENV) (from requirements-ci.txt)"
	@echo "make clean          remove build output, $(VENV), the tools' node_modules and generated clients (keeps ./data)"

run:
	$(CARGO) build --bin kabinet
	@listen="$${KABINET_LISTEN:-127.0.0.1:8080}"; \
	 echo "Swagger UI: http://$${listen/#0.0.0.0:/127.0.0.1:}/swagger-ui/  Redoc: http://$${listen/#0.0.0.0:/127.0.0.1:}/docs"
	KABINET_DEMO=1 KABINET_DEV_MAILBOX=$${KABINET_DEV_MAILBOX:-data/mailbox.jsonl} $(KABINET) serve

test:
	$(CARGO) test --workspace

ci:
	@step() { \
	   echo "==> ci: $$1"; local start=$$(date +%s); \
	   if ! $(MAKE) --no-print-directory $$1; then \
	     echo "==> ci: $$1 FAILED after $$(( $$(date +%s) - start )) s" >&2; return 1; \
	   fi; \
	   echo "==> ci: $$1 ok in $$(( $$(date +%s) - start )) s"; \
	 }; \
	 beside_log=$$(mktemp); trap 'rm -f "$$beside_log"' EXIT; beside_pid=""; \
	 joined() { \
	   [ -n "$$beside_pid" ] || return 0; \
	   local status=0; wait "$$beside_pid" || status=$$?; beside_pid=""; \
	   echo "==> ci: beside $$1: $$(beside_of $$1)"; cat "$$beside_log"; return $$status; \
	 }; \
	 beside_of() { case $$1 in lint-build) echo "$(CI_BESIDE_BUILD)";; schemathesis) echo "$(CI_BESIDE_SCHEMATHESIS)";; esac; }; \
	 for s in $(CI_STEPS); do \
	   beside=$$(beside_of $$s); \
	   if [ -n "$$beside" ]; then \
	     ( for b in $$beside; do step $$b || exit 1; done ) > "$$beside_log" 2>&1 & beside_pid=$$!; \
	   fi; \
	   step $$s || { joined "$$s" || true; exit 1; }; \
	   joined "$$s" || exit 1; \
	 done

fmt-check:
	$(CARGO) fmt --all -- --check

clippy:
	$(CARGO) clippy --workspace --all-targets $(FEATURES) -- -D warnings

# What `make ci` runs instead of `clippy` (see CI_STEPS): builds every target, tests and
# benchmarks included, linted as it compiles. It first proves the wrapper lints at all: a
# file with a warn-by-default clippy lint (`&Vec` argument) must fail to compile.
lint-build:
	@test -n "$$RUSTC_WORKSPACE_WRAPPER" || { echo "clippy-driver not found: rustup component add clippy" >&2; exit 1; }
	@probe=$$(mktemp -d); trap 'rm -rf "$$probe"' EXIT; \
	 printf 'pub fn f(x: &Vec<u8>) -> usize { x.len() }\n' > "$$probe/probe.rs"; \
	 if "$$RUSTC_WORKSPACE_WRAPPER" rustc --edition 2021 --crate-type lib --emit metadata \
	      --out-dir "$$probe" "$$probe/probe.rs" 2>/dev/null; then \
	   echo "clippy-driver let a clippy warning through: the build would not be linted" >&2; exit 1; \
	 fi; echo "clippy-driver lints (a probe with a clippy warning failed to compile, as it must)"
	$(CARGO) build --workspace --all-targets $(FEATURES)

# CI runs the tests on SQLite and PostgreSQL; `make test` leaves the choice to the caller.
test-ci pg-check: export KABINET_TEST_POSTGRES ?= postgres://postgres@127.0.0.1:5432
# A PostgreSQL variant without a server fails here instead of reporting SKIPPED.
test-ci: export KABINET_REQUIRE_POSTGRES = 1
# So does the browser test (tests/http/browser.rs) without Chromium.
test-ci: export KABINET_REQUIRE_BROWSER = 1

pg-check:
	@command -v pg_isready >/dev/null || { echo "pg_isready not found: install postgresql-client" >&2; exit 1; }
	@pg_isready -q -d "$$KABINET_TEST_POSTGRES" || { \
	   echo "PostgreSQL is not reachable at $$KABINET_TEST_POSTGRES (pg_isready failed)." >&2; \
	   echo "Start it (e.g. pg_ctlcluster 15 main start) or point KABINET_TEST_POSTGRES elsewhere." >&2; \
	   exit 1; }
	@psql "$$KABINET_TEST_POSTGRES" -XAtqc 'select 1' >/dev/null || { \
	   echo "PostgreSQL at $$KABINET_TEST_POSTGRES refused the login (see the psql error above)." >&2; exit 1; }
	@echo "PostgreSQL reachable at $$KABINET_TEST_POSTGRES"

# Headless Chromium drives a web page on another origin against the API (CORS, stream
# tickets, EventSource); Debian's package, installed only when it is missing.
browser-deps:
	@if command -v chromium >/dev/null; then echo "chromium present: $$(command -v chromium)"; else \
	   sudo=""; [ "$$(id -u)" = 0 ] || sudo=sudo; \
	   echo "==> installing chromium (Debian)"; \
	   $$sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$sudo apt-get install -y -qq --no-install-recommends chromium; \
	 fi

# The test databases go to a tablespace in memory where this machine allows it
# (scripts/test_tablespace.sh says why).
test-ci: pg-check browser-deps
	@space=$$(bash scripts/test_tablespace.sh "$$KABINET_TEST_POSTGRES"); \
	 if [ -n "$$space" ]; then echo "test databases in tablespace $$space (memory)"; \
	 else echo "test databases in the default tablespace (no tablespace in memory here)"; fi; \
	 export KABINET_TEST_TABLESPACE=$$space; \
	 $(CARGO) test --workspace $(FEATURES)

# Written through a temporary file so that a failed run leaves the committed copy intact.
openapi:
	@mkdir -p $(dir $(SPEC)); tmp=$$(mktemp $(SPEC).XXXXXX); trap 'rm -f "$$tmp"' EXIT; \
	 $(CARGO) run -q $(FEATURES) --bin kabinet -- openapi > "$$tmp"; \
	 test -s "$$tmp" || { echo "kabinet openapi printed nothing" >&2; exit 1; }; \
	 chmod 644 "$$tmp"; mv "$$tmp" $(SPEC); \
	 echo "wrote $(SPEC)"

openapi-check: venv
	$(VENV)/bin/openapi-spec-validator $(SPEC)
	@tmp=$$(mktemp); trap 'rm -f "$$tmp" "$$tmp.diff"' EXIT; \
	 $(KABINET_BUILD); $(KABINET) openapi > "$$tmp"; \
	 if ! diff -u $(SPEC) "$$tmp" > "$$tmp.diff"; then \
	   head -n 80 "$$tmp.diff"; \
	   echo "$(SPEC) differs from 'kabinet openapi': run 'make openapi' and commit the result." >&2; \
	   exit 1; \
	 fi; \
	 echo "$(SPEC) matches the code"

# Lints the committed spec (which openapi-check keeps equal to the served one) with the
# rules in .spectral.yaml; a warning fails like an error.
spectral: $(SPECTRAL_STAMP)
	$(SPECTRAL) lint --ruleset .spectral.yaml --fail-severity=warn $(SPEC)

spectral-install: $(SPECTRAL_STAMP)

# Install scripts are not run: Spectral needs none (one dependency's would only phone home).
$(SPECTRAL_STAMP): $(SPECTRAL_DIR)/package.json $(SPECTRAL_DIR)/package-lock.json
	@command -v npm >/dev/null || { echo "npm not found: install Node.js (18.18 or later) with npm" >&2; exit 1; }
	cd $(SPECTRAL_DIR) && npm ci --ignore-scripts --no-audit --no-fund
	touch $@

# Generated clients (scripts/clients.sh): TypeScript types type-checked with a scenario and
# run against a throw-away server; a Python client generated without warnings and used.
clients: venv $(CLIENTS_STAMP)
	$(KABINET_BUILD)
	KABINET_BIN=$(KABINET) OPENAPI_PYTHON_CLIENT=$(VENV)/bin/openapi-python-client bash scripts/clients.sh

clients-install: $(CLIENTS_STAMP)

$(CLIENTS_STAMP): $(CLIENTS_DIR)/package.json $(CLIENTS_DIR)/package-lock.json
	@command -v npm >/dev/null || { echo "npm not found: install Node.js (18 or later) with npm" >&2; exit 1; }
	cd $(CLIENTS_DIR) && npm ci --ignore-scripts --no-audit --no-fund
	touch $@

# Breaking changes since the last released spec (scripts/api_diff.py): first proves that
# the tool flags a removed operation and a removed required response field, then compares.
api-diff: $(API_DIFF_STAMP)
	OPTIC=$(OPTIC) $(PYTHON) scripts/api_diff.py --self-check
	OPTIC=$(OPTIC) $(PYTHON) scripts/api_diff.py

api-diff-install: $(API_DIFF_STAMP)

api-release:
	$(PYTHON) scripts/api_diff.py --release

# As for Spectral: no install scripts run (Optic needs none).
$(API_DIFF_STAMP): $(API_DIFF_DIR)/package.json $(API_DIFF_DIR)/package-lock.json
	@command -v npm >/dev/null || { echo "npm not found: install Node.js (18.18 or later) with npm" >&2; exit 1; }
	cd $(API_DIFF_DIR) && npm ci --ignore-scripts --no-audit --no-fund
	touch $@

# The README's Quick tour, executed as written (scripts/quick-tour.sh), so it cannot go stale.
quick-tour:
	$(KABINET_BUILD)
	KABINET_BIN=$(KABINET) bash scripts/quick-tour.sh

schemathesis: venv
	$(KABINET_BUILD)
	KABINET_BIN=$(KABINET) SCHEMATHESIS=$(VENV)/bin/schemathesis bash scripts/schemathesis.sh

# Installs from Debian what is missing of the tools $(1) (command:package pairs), saying so
# under the name $(2).
define install_missing
missing=""; for pair in $(1); do \
  command -v "$${pair%%:*}" >/dev/null || missing="$$missing $${pair#*:}"; \
done; \
if [ -n "$$missing" ]; then \
  sudo=""; [ "$$(id -u)" = 0 ] || sudo=sudo; \
  echo "==> $(2): installing$$missing"; \
  $$sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$sudo apt-get install -y -qq $$missing; \
fi
endef

# HTTP benchmark on SQLite and PostgreSQL (scripts/bench.sh: seeded volume, wrk over loopback
# at peak and paced to half of it, the bare actix-web + diesel ceiling; writes
# docs/benchmarks.md, about 10 minutes), then the Criterion auth benchmark (bench-auth).
# Installs what it lacks of these tools from Debian (command:package).
BENCH_TOOLS := wrk:wrk curl:curl psql:postgresql-client pg_isready:postgresql-client

bench:
	@$(call install_missing,$(BENCH_TOOLS),bench)
	$(CARGO) build --release $(FEATURES) -p kabinet-api --bin kabinet -p kabinet-tests --bin kabinet-bench
	BENCH_COMMAND="make bench" KABINET_BIN=$(TARGET_DIR)/release/kabinet \
	  KABINET_BENCH_BIN=$(TARGET_DIR)/release/kabinet-bench bash scripts/bench.sh
	$(MAKE) --no-print-directory bench-auth
	$(MAKE) --no-print-directory bench-documents
	$(MAKE) --no-print-directory bench-events

# Optimised build: the figures mean nothing in debug. Set KABINET_BENCH_DATABASE_URL to a
# postgres:// database to measure PostgreSQL instead of SQLite.
bench-auth:
	$(CARGO) bench -p kabinet-tests --bench auth

# Two PostgreSQL-backed nodes behind HAProxy under a mixed load; one is killed (SIGKILL)
# mid-run; every acknowledged write, the audit log and every SSE subscriber's events are
# checked afterwards (issue 17, item 5). Installs HAProxy from Debian like `bench` installs wrk.
CLUSTER_TOOLS := haproxy:haproxy curl:curl psql:postgresql-client pg_isready:postgresql-client

bench-cluster:
	@$(call install_missing,$(CLUSTER_TOOLS),bench-cluster)
	$(CARGO) build --release $(FEATURES) -p kabinet-api --bin kabinet -p kabinet-tests --bin kabinet-bench
	KABINET_BIN=$(TARGET_DIR)/release/kabinet KABINET_BENCH_BIN=$(TARGET_DIR)/release/kabinet-bench \
	  bash scripts/bench_cluster.sh

# Upload and download throughput of a 5 MB document against the disk's own floor.
bench-documents:
	$(CARGO) bench -p kabinet-tests --bench documents

# A process that exits while its threads are still opening PostgreSQL sessions exits cleanly
# (persistence::connection::establish_postgres): EXIT_RUNS runs, failing if any crashed, then
# as many without it for comparison. Not part of ci: what it guards against is a race, a
# crash in some runs only, which a short check could miss and a long one would make slow.
EXIT_RUNS ?= 200

exit-check:
	$(CARGO) build -q -p kabinet-persistence --example exit_while_connecting
	@bin=$(TARGET_DIR)/debug/examples/exit_while_connecting; status=0; \
	 for mode in guarded --raw; do bad=0; \
	   for i in $$(seq $(EXIT_RUNS)); do \
	     if [ $$mode = guarded ]; then $$bin >/dev/null 2>&1; else $$bin --raw >/dev/null 2>&1; fi \
	       || bad=$$((bad+1)); \
	   done; \
	   echo "exit-check $$mode: $$bad of $(EXIT_RUNS) runs crashed"; \
	   if [ $$mode = guarded ] && [ $$bad -gt 0 ]; then status=1; fi; \
	 done; exit $$status

# Server-Sent Events on one node: 2,000 and 5,000 open streams, and the time from one
# write until 1,000 subscribers all have its event.
bench-events:
	$(CARGO) bench -p kabinet-tests --bench events

venv: $(VENV_STAMP)

$(VENV_STAMP): requirements-ci.txt
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install --disable-pip-version-check -q -r requirements-ci.txt
	touch $@

clean:
	$(CARGO) clean
	rm -rf $(VENV) $(SPECTRAL_DIR)/node_modules $(CLIENTS_DIR)/node_modules $(CLIENTS_DIR)/generated $(API_DIFF_DIR)/node_modules
