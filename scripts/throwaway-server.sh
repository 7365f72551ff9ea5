# A throw-away Kabinet server for the scripts that hold one to the contract
# (schemathesis.sh, clients.sh, quick-tour.sh): a free loopback port, a fresh SQLite data
# directory with the demo data, a development mailbox, and nothing from the caller's
# configuration. Sourced, not run; the caller defines `say`, `die` and `kabinet_bin`.
#
#   throwaway_prepare NAME [LOG [PORT]] sets port, base, work, server_log (default in work) and
#                                      the environment;
#                                      the server is stopped and `work` removed on exit
#   (the caller may export more settings here)
#   throwaway_start                    starts `kabinet serve` and waits until it is ready

throwaway_prepare() {
    local name=$1
    port=${3:-$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')}
    base="http://127.0.0.1:$port"
    work=$(mktemp -d "${TMPDIR:-/tmp}/kabinet-$name.XXXXXX")
    server_log=${2:-$work/server.log}
    server_pid=""
    trap throwaway_cleanup EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM

    unset DATABASE_URL KABINET_CONFIG
    export KABINET_LISTEN="127.0.0.1:$port"
    export KABINET_DATA_DIR="$work/data"
    export KABINET_DEMO=1
    export KABINET_ENV=development
    export KABINET_DEV_MAILBOX="$work/mailbox.jsonl"
    export KABINET_LOG=${KABINET_LOG:-info}
    export KABINET_LOG_FORMAT=text
    export KABINET_WORKERS=2
    export KABINET_SHUTDOWN_TIMEOUT_SECS=5
    export NO_PROXY="127.0.0.1,localhost${NO_PROXY:+,$NO_PROXY}" no_proxy="127.0.0.1,localhost${no_proxy:+,$no_proxy}"
    mkdir -p "$KABINET_DATA_DIR"
}

throwaway_start() {
    say "starting $kabinet_bin serve on $base (data in $KABINET_DATA_DIR, log in $server_log)"
    "$kabinet_bin" serve >"$server_log" 2>&1 &
    server_pid=$!
    local deadline=$(( $(date +%s) + 60 ))
    until curl -fsS --max-time 2 -o /dev/null "$base/ready" 2>/dev/null; do
        kill -0 "$server_pid" 2>/dev/null || die "the server exited before it was ready"
        (( $(date +%s) < deadline )) || die "$base/ready did not answer within 60 s"
        sleep 0.5
    done
}

# Stops the server (5 s of graceful shutdown, then killed); after a failure the end of its
# log is shown, since the answer that failed is usually explained there.
throwaway_cleanup() {
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
    if (( status != 0 )) && [[ -s $server_log ]]; then
        say "last lines of the server's log ($server_log):"
        tail -n 30 "$server_log" >&2 || true
    fi
    rm -rf "$work"
    exit "$status"
}
