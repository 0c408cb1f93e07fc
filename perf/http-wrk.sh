#!/usr/bin/env bash
# Load on the http input from wrk (Debian `wrk`, `make perf-deps`): keep-alive connections each
# POSTing the same request of EVENTS events again as soon as the last one is answered:
#   perf/http-wrk.sh [CONNECTIONS] [SECONDS] [RUNS] [WORKERS] [EVENTS] [bulk|ndjson]
# bulk: Elasticsearch bulk requests to /_bulk (an action line before each ~190 B document);
# ndjson: the same documents as NDJSON to /logs. The node: `sluice run` http (ack=output, the
# default: a request is answered once its events were acknowledged) → devnull, so the figure is
# the input's. Reports per run and as medians: requests/s, MB/s of request bodies, events/s, and
# wrk's latency p50/p99. Every answer must be 2xx and the node must have framed the events of
# every answered request (exit summary). wrk runs 2 threads on the same CPUs as the node.
# SLUICE=path runs a given binary (default: the release build of
# `swift build -c release --product sluice --scratch-path .build-bench`).
set -euo pipefail
connections=${1:-8} seconds=${2:-10} runs=${3:-3} workers=${4:-2} events=${5:-1000} mode=${6:-bulk}
here=$(cd "$(dirname "$0")" && pwd)
sluice=${SLUICE:-$here/../.build-bench/release/sluice}
[ -x "$sluice" ] || { echo "no binary at $sluice: swift build -c release --product sluice --scratch-path .build-bench" >&2; exit 1; }
command -v wrk >/dev/null || { echo "wrk is not installed: make perf-deps (Debian package wrk)" >&2; exit 1; }
case $mode in bulk|ndjson) ;; *) echo "mode must be bulk or ndjson, not $mode" >&2; exit 2 ;; esac
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

one() {  # → "requests_per_s body_MB_per_s events_per_s p50_ms p99_ms"
    local port node
    port=$(free_port)
    "$sluice" run --admin off --workers "$workers" --input "http:listen=127.0.0.1:$port" --output devnull 2> "$work/node.err" &
    node=$!
    for _ in $(seq 200); do grep -q started "$work/node.err" && break; sleep 0.05; done
    WRK_EVENTS=$events WRK_MODE=$mode wrk -t2 -c"$connections" -d"${seconds}s" --timeout 30s \
        -s "$here/http-bulk.lua" "http://127.0.0.1:$port" -- "$events" "$mode" > "$work/wrk.out"
    kill -TERM $node; wait $node || true
    python3 - "$work/node.err" "$work/wrk.out" "$events" "$connections" <<'PY'
import sys
summary = [l for l in open(sys.argv[1]) if l.startswith("sluice: events_in=")][-1]
node = dict(kv.split("=", 1) for kv in summary.split()[1:] if "=" in kv)
line = [l for l in open(sys.argv[2]) if l.startswith("WRK ")][-1]
w = {k: float(v) for k, v in (kv.split("=") for kv in line.split()[1:])}
events, connections = int(sys.argv[3]), int(sys.argv[4])
framed = int(node["events_in"])
if w["non2xx"] or w["socket_errors"]:
    sys.exit(f"FAILED: {int(w['non2xx'])} answers were not 2xx, {int(w['socket_errors'])} socket errors")
# Each answered request's events were framed; requests cut at the end add at most one per connection.
if not (w["requests"] * events <= framed <= (w["requests"] + connections) * events):
    sys.exit(f"LOST: {int(w['requests'])} requests of {events} events answered, the node framed {framed}")
rate = w["requests"] / w["seconds"]
print(f"{rate:.1f} {rate * w['body_bytes'] / 1e6:.1f} {rate * events:.0f} {w['p50_us'] / 1e3:.2f} {w['p99_us'] / 1e3:.2f}")
PY
}

echo "wrk → http input ($mode, $events events per request) → devnull: $connections connections, ${seconds}s, $workers workers, $runs runs"
: > "$work/results"
for r in $(seq "$runs"); do
    result=$(one)
    echo "run $r: $result  (requests/s, MB/s of bodies, events/s, p50 ms, p99 ms)"
    echo "$result" >> "$work/results"
done
python3 - "$work/results" <<'PY'
import statistics, sys
rows = [[float(x) for x in l.split()] for l in open(sys.argv[1])]
m = [statistics.median(r[i] for r in rows) for i in range(5)]
print(f"median: {m[0]:.0f} requests/s, {m[1]:.0f} MB/s of request bodies, {m[2]:.0f} events/s, latency p50 {m[3]:.1f} ms, p99 {m[4]:.1f} ms")
PY
