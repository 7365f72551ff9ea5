#!/usr/bin/env python3
"""The load and the checks of `make bench-cluster` (scripts/bench_cluster.sh).

    bench_cluster.py load --proxy URL --db-url URL --seed DIR --kill-pid PID --out RESULTS.json
    bench_cluster.py report RESULTS.json --doc docs/benchmarks.md

`load` drives a mixed load through HAProxy in front of two nodes: readers (get one, list),
writers (create, then comment on what they created), submitters (the heavy citizen's seeded
drafts) and SSE subscribers (`GET /api/v1/me/events` of writers, resuming with
`Last-Event-ID` whenever a stream ends). At --kill-at seconds it sends SIGKILL to --kill-pid
(one node). Afterwards it checks in the database that every acknowledged write is there and
that every subscriber received each event of its audience after its starting point exactly
once, in order. `report` writes the figures as their own section of docs/benchmarks.md
(between markers, so `make bench` keeps it). Standard library and psql only.
"""

import argparse
import http.client
import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

PASSWORD = "Bench-Passw0rd!"
HEAVY = "bench.heavy@example.ru"
CREATE_BODY = {"service_code": "passport-replacement", "form_data": {"reason": "age_45"}}
START, END = "<!-- bench-cluster -->", "<!-- /bench-cluster -->"


class Log:
    """Every request's outcome: (seconds since start, kind, ok, status or error)."""

    def __init__(self):
        self.lock = threading.Lock()
        self.entries = []
        self.t0 = time.monotonic()

    def now(self):
        return time.monotonic() - self.t0

    def add(self, kind, ok, what):
        with self.lock:
            self.entries.append((self.now(), kind, ok, what))


def call(base, method, path, token=None, body=None, headers=None, timeout=15):
    """(status, parsed JSON or None); status 0 with the error text on a transport failure."""
    data = json.dumps(body).encode() if body is not None else None
    h = {"Accept": "application/json"}
    if data is not None:
        h["Content-Type"] = "application/json"
    if token:
        h["Authorization"] = "Bearer " + token
    h.update(headers or {})
    request = urllib.request.Request(base + path, data=data, headers=h, method=method)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as answer:
            raw = answer.read()
            return answer.status, (json.loads(raw) if raw else None)
    except urllib.error.HTTPError as e:
        return e.code, None
    except (OSError, http.client.HTTPException) as e:
        return 0, str(e)


def login(base, name):
    for _ in range(20):
        status, body = call(base, "POST", "/api/v1/auth/login", body={"login": name, "password": PASSWORD}, timeout=60)
        if status == 200 and body and body.get("status") == "authenticated":
            return body["access_token"]
        time.sleep(0.5)
    raise SystemExit(f"login of {name} failed: {status} {body}")


def psql(db_url, sql):
    out = subprocess.run(["psql", db_url, "-XAtq", "-F", "\t", "-c", sql], check=True, capture_output=True, text=True)
    return [line.split("\t") for line in out.stdout.splitlines() if line]


class Subscriber(threading.Thread):
    """One account's `me` stream, resumed with Last-Event-ID after every end or failure."""

    def __init__(self, proxy, token, account, start_id, stop):
        super().__init__(daemon=True)
        self.proxy, self.token, self.account = urllib.parse.urlsplit(proxy), token, account
        self.last = start_id
        self.received = []
        self.nodes = []  # (seconds, node) of each connection
        self.breaks = []  # seconds at which a stream ended or failed
        self.refused = []  # statuses other than 200 when opening
        self.stop = stop
        self.log_t0 = time.monotonic()

    def run(self):
        while not self.stop.is_set():
            try:
                self.stream()
            except (OSError, http.client.HTTPException):
                pass
            self.breaks.append(time.monotonic() - self.log_t0)
            time.sleep(0.2)

    def stream(self):
        conn = http.client.HTTPConnection(self.proxy.hostname, self.proxy.port, timeout=20)
        try:
            conn.request("GET", "/api/v1/me/events", headers={
                "Authorization": "Bearer " + self.token, "Accept": "text/event-stream",
                "Last-Event-ID": str(self.last)})
            answer = conn.getresponse()
            if answer.status != 200:
                self.refused.append(answer.status)
                answer.read()
                return
            self.nodes.append((time.monotonic() - self.log_t0, answer.getheader("X-Served-By", "?")))
            event_id = None
            while not self.stop.is_set():
                line = answer.fp.readline()
                if not line:
                    return
                line = line.decode("utf-8", "replace").rstrip("\r\n")
                if line.startswith("id:"):
                    event_id = int(line[3:].strip())
                elif line == "" and event_id is not None:
                    self.received.append(event_id)
                    self.last = max(self.last, event_id)
                    event_id = None
        finally:
            conn.close()


def load(args):
    log = Log()
    seed = args.seed
    writers = [line.rstrip("\n").split("\t") for line in open(os.path.join(seed, "writers.txt"), encoding="utf-8") if line.strip()]
    writers = writers[: args.writers]
    heavy_token = login(args.proxy, HEAVY)
    tokens = [login(args.proxy, name) for _, name in writers]
    reads = [l.strip() for l in open(os.path.join(seed, "applications.txt"), encoding="utf-8") if l.strip()]
    drafts = [l.strip() for l in open(os.path.join(seed, "drafts.txt"), encoding="utf-8") if l.strip()]
    start_id = int(psql(args.db_url, "SELECT coalesce(max(id), 0) FROM events")[0][0])

    stop_streams, stop_load = threading.Event(), threading.Event()
    subscribers = [Subscriber(args.proxy, tokens[i], writers[i][0], start_id, stop_streams)
                   for i in range(min(args.subscribers, len(writers)))]
    for s in subscribers:
        s.log_t0 = log.t0
        s.start()

    acked = {"create": [], "comment": [], "submit": []}
    acked_lock = threading.Lock()

    def ack(kind, value):
        with acked_lock:
            acked[kind].append(value)

    def writer(i):
        token = tokens[i]
        while not stop_load.is_set():
            status, body = call(args.proxy, "POST", "/api/v1/applications", token, CREATE_BODY)
            log.add("create", status == 201, status or body)
            if status != 201:
                time.sleep(0.05)
                continue
            ack("create", body["id"])
            status, answer = call(args.proxy, "POST", f"/api/v1/applications/{body['id']}/comments", token,
                                  {"body": "Нагрузочный комментарий."})
            log.add("comment", status == 201, status or answer)
            if status == 201:
                ack("comment", answer["id"])

    pending = list(drafts)
    pending_lock = threading.Lock()

    def submitter():
        while not stop_load.is_set():
            with pending_lock:
                if not pending:
                    return
                draft = pending.pop()
            status, body = call(args.proxy, "POST", f"/api/v1/applications/{draft}/submit", heavy_token,
                                headers={"If-Match": '"1"'})
            log.add("submit", status == 200, status or body)
            if status == 200:
                ack("submit", draft)

    def reader(i):
        n = i
        while not stop_load.is_set():
            n += 1
            path = "/api/v1/applications?limit=20" if n % 4 == 0 else f"/api/v1/applications/{reads[n % len(reads)]}"
            status, body = call(args.proxy, "GET", path, heavy_token)
            log.add("read", status == 200, status or body)

    threads = [threading.Thread(target=writer, args=(i,), daemon=True) for i in range(len(tokens))]
    threads += [threading.Thread(target=submitter, daemon=True) for _ in range(args.submitters)]
    threads += [threading.Thread(target=reader, args=(i,), daemon=True) for i in range(args.readers)]
    for t in threads:
        t.start()
    time.sleep(max(0.0, args.kill_at - log.now()))
    killed_at = log.now()
    os.kill(args.kill_pid, signal.SIGKILL)
    print(f"[cluster] SIGKILL to node pid {args.kill_pid} at {killed_at:.1f} s", file=sys.stderr)
    time.sleep(max(0.0, args.duration - log.now()))
    stop_load.set()
    for t in threads:
        t.join(30)
    load_end = log.now()

    # Every subscriber must catch up with everything its account got in the database.
    def expected_of(account):
        rows = psql(args.db_url, f"SELECT a.event_id FROM event_audience a WHERE a.account_id = '{account}' "
                                 f"AND a.event_id > {start_id} ORDER BY a.event_id")
        return [int(r[0]) for r in rows]

    deadline = time.monotonic() + args.catch_up
    while time.monotonic() < deadline:
        if all(set(expected_of(s.account)) <= set(s.received) for s in subscribers):
            break
        time.sleep(1)
    stop_streams.set()

    # Acknowledged writes present?
    def missing(table, column, ids, extra=""):
        absent = []
        for k in range(0, len(ids), 500):
            chunk = ids[k:k + 500]
            found = {r[0] for r in psql(args.db_url, f"SELECT {column} FROM {table} WHERE {column} IN ("
                                        + ",".join(f"'{x}'" for x in chunk) + f"){extra}")}
            absent += [x for x in chunk if x not in found]
        return absent

    lost = {
        "create": missing("applications", "id", acked["create"]),
        "comment": missing("comments", "id", acked["comment"]),
        "submit": missing("applications", "id", acked["submit"], " AND status <> 'draft'"),
    }
    streams = []
    for s in subscribers:
        expected = expected_of(s.account)
        got = s.received
        streams.append({
            "account": s.account, "expected": len(expected), "received": len(got),
            "lost": len(set(expected) - set(got)), "repeated": len(got) - len(set(got)),
            "out_of_order": sum(1 for a, b in zip(got, got[1:]) if b <= a),
            "unexpected": len(set(got) - set(expected)),
            "nodes": [n for _, n in s.nodes], "reconnects_after_kill": sum(1 for t, _ in s.nodes if t >= killed_at),
            "refused": s.refused,
        })

    entries = log.entries
    after = [e for e in entries if e[0] >= killed_at]
    errors_after = [e for e in after if not e[2]]
    last_error = max((e[0] for e in errors_after), default=killed_at)
    result = {
        "duration": round(load_end, 1), "killed_at": round(killed_at, 1),
        "requests": {k: sum(1 for e in entries if e[1] == k) for k in ("read", "create", "comment", "submit")},
        "errors": {k: sum(1 for e in entries if e[1] == k and not e[2]) for k in ("read", "create", "comment", "submit")},
        "errors_before_kill": sum(1 for e in entries if e[0] < killed_at and not e[2]),
        "errors_after_kill": len(errors_after),
        "error_kinds": sorted({str(e[3])[:80] for e in errors_after})[:8],
        "recovery_seconds": round(last_error - killed_at, 2),
        "throughput": round(len(entries) / load_end, 1),
        "acknowledged": {k: len(v) for k, v in acked.items()},
        "lost": {k: v[:10] for k, v in lost.items()},
        "lost_count": {k: len(v) for k, v in lost.items()},
        "streams": streams,
        "start_event_id": start_id,
    }
    with open(args.out, "w", encoding="utf-8") as f:
        json.dump(result, f, indent=1)
    ok = (not any(lost.values())
          and all(s["lost"] == 0 and s["repeated"] == 0 and s["out_of_order"] == 0 for s in streams))
    print(f"[cluster] {'all acknowledged writes present, every stream complete' if ok else 'CHECKS FAILED'}: "
          f"see {args.out}", file=sys.stderr)
    return 0 if ok else 1


def report(args):
    r = json.load(open(args.results, encoding="utf-8"))
    meta = r.get("meta", {})
    streams = r["streams"]
    resumed = sum(1 for s in streams if s["reconnects_after_kill"] and s["lost"] == 0 and s["repeated"] == 0)
    moved = sum(1 for s in streams if s["reconnects_after_kill"])
    lines = [START, "## Two nodes, one database, under load (`make bench-cluster`)", ""]
    lines.append(
        f"Generated by `make bench-cluster` (`scripts/bench_cluster.sh`) on {meta.get('date', '?')} at commit "
        f"`{meta.get('commit', '?')}`: two PostgreSQL-backed `kabinet serve` nodes (`KABINET_ENV=production`, the "
        "same generated `KABINET_SIGNING_KEYS`, `KABINET_PII_KEYS` and `KABINET_PII_INDEX_KEY`) behind HAProxy "
        f"{meta.get('haproxy', '')} (round robin, health check `GET /health` every 500 ms, a server down after 2 "
        f"failures), on this machine. A mixed load for {r['duration']} s: {meta.get('writers', '?')} writers "
        f"(create, then comment on it), {meta.get('submitters', '?')} submitters (the heavy citizen's drafts), "
        f"{meta.get('readers', '?')} readers (get one, list), {len(streams)} SSE subscribers on `/api/v1/me/events` "
        f"of writers; node A got **SIGKILL** at {r['killed_at']} s."
    )
    lines.append("")
    lines.append("| check | result | met? |")
    lines.append("|---|---|---|")
    lost = r["lost_count"]
    yes = lambda ok: "yes" if ok else "**no**"
    lines.append(f"| every acknowledged write is in the database | creates {r['acknowledged']['create']:,}, comments "
                 f"{r['acknowledged']['comment']:,}, submits {r['acknowledged']['submit']:,} acknowledged; missing: "
                 f"{lost['create']}, {lost['comment']}, {lost['submit']} | {yes(not any(lost.values()))} |")
    audit = meta.get("audit_verify", "not run")
    lines.append(f"| the audit log verifies (`kabinet audit verify`) | {audit} | {yes(meta.get('audit_ok', False))} |")
    bad = [s for s in streams if s["lost"] or s["repeated"] or s["out_of_order"]]
    lines.append(f"| every SSE subscriber got each of its events exactly once, in order | {len(streams) - len(bad)} of "
                 f"{len(streams)} complete; events lost {sum(s['lost'] for s in streams)}, repeated "
                 f"{sum(s['repeated'] for s in streams)} | {yes(not bad)} |")
    lines.append(f"| subscribers whose stream broke at the kill resumed on the other node | {resumed} of {moved} | "
                 f"{yes(resumed == moved)} |")
    lines.append("")
    lines.append("| figure | value |")
    lines.append("|---|---|")
    lines.append(f"| requests (read / create / comment / submit) | " + " / ".join(f"{r['requests'][k]:,}" for k in ("read", "create", "comment", "submit")) + " |")
    lines.append(f"| throughput through HAProxy, all kinds | {r['throughput']:,} req/s |")
    lines.append(f"| failed requests before the kill | {r['errors_before_kill']} |")
    lines.append(f"| failed requests from the kill on (errors during failover) | {r['errors_after_kill']}"
                 + (f": {', '.join(r['error_kinds'])}" if r['error_kinds'] else "") + " |")
    lines.append(f"| time to recover (kill to the last failed request) | {r['recovery_seconds']} s |")
    lines.append("")
    lines.append(
        "A failed request is any answer other than the expected status, or none (a connection cut by the kill, "
        "HAProxy's 502/503 before its health check takes node A out). Unacknowledged writes are not checked "
        "(they may or may not have committed). Subscribers start from the largest event id at the start of the "
        "load and resume with the last id they received; the events they should have are their account's rows "
        "of `event_audience` after that id (event ids are compared as a set and for order, never for gaps)."
    )
    lines += ["", END, ""]
    section = "\n".join(lines)
    text = open(args.doc, encoding="utf-8").read() if os.path.exists(args.doc) else "# Benchmarks\n\n"
    if START in text and END in text:
        head, rest = text.split(START, 1)
        text = head + section + rest.split(END, 1)[1].lstrip("\n")
    else:
        text = text.rstrip("\n") + "\n\n" + section
    with open(args.doc, "w", encoding="utf-8") as f:
        f.write(text)
    return 0


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("load")
    p.add_argument("--proxy", required=True)
    p.add_argument("--db-url", required=True)
    p.add_argument("--seed", required=True)
    p.add_argument("--kill-pid", type=int, required=True)
    p.add_argument("--kill-at", type=float, default=15)
    p.add_argument("--duration", type=float, default=40)
    p.add_argument("--catch-up", type=float, default=30)
    p.add_argument("--writers", type=int, default=16)
    p.add_argument("--subscribers", type=int, default=16)
    p.add_argument("--submitters", type=int, default=2)
    p.add_argument("--readers", type=int, default=4)
    p.add_argument("--out", required=True)
    p = sub.add_parser("report")
    p.add_argument("results")
    p.add_argument("--doc", default="docs/benchmarks.md")
    args = parser.parse_args()
    return load(args) if args.command == "load" else report(args)


if __name__ == "__main__":
    sys.exit(main())
