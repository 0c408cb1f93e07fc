#!/usr/bin/env bash
# What TLS costs on the hot path: the tcp input plain and with TLS, run after run in one go on
# this machine, the same senders and load, medians:
#   perf/tls.sh [CONNECTIONS] [MIB_PER_CONNECTION] [RUNS] [WORKERS]
# Senders: Python processes (perf/tls-sender.py), one per connection, each sending 256 B lines
# in 1 MiB writes, through `ssl` (TLS 1.3, AES-GCM as OpenSSL negotiates it) or a plain socket;
# the node: `sluice run` tcp → devnull (the input's cost, not an output's), every line counted
# from its exit summary. Reports MB/s (senders start → the node framed the last line, polled on
# /metrics) and the node's
# CPU seconds per GB received; the senders share the machine's CPUs with the node, so the CPU
# figure is the one to compare. SLUICE=path runs a given binary (default: the release build of
# `swift build -c release --product sluice --scratch-path .build-bench`).
set -euo pipefail
connections=${1:-4} mib=${2:-128} runs=${3:-5} workers=${4:-2}
here=$(cd "$(dirname "$0")" && pwd)
sluice=${SLUICE:-$here/../.build-bench/release/sluice}
[ -x "$sluice" ] || { echo "no binary at $sluice: swift build -c release --product sluice --scratch-path .build-bench" >&2; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 -subj /CN=localhost \
    -addext subjectAltName=DNS:localhost -keyout "$work/key.pem" -out "$work/cert.pem" 2>/dev/null
lines=$(( connections * mib * 4096 ))  # 4,096 lines of 256 B per MiB

one() {  # mode → "MB/s cpu_s_per_GB" on stdout
    local mode=$1 port admin extra="" ca=""
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
    admin=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
    if [ "$mode" = tls ]; then extra=",tls-cert=$work/cert.pem,tls-key=$work/key.pem"; ca=$work/cert.pem; fi
    "$sluice" run --admin "127.0.0.1:$admin" --workers "$workers" --input "tcp:listen=127.0.0.1:$port$extra" --output devnull 2> "$work/node.err" &
    local node=$!
    for _ in $(seq 100); do grep -q started "$work/node.err" && break; sleep 0.05; done
    python3 "$here/tls-sender.py" "$port" "$connections" "$mib" "$admin" "$ca" > "$work/sender.out"
    local start end
    start=$(cut -d' ' -f1 "$work/sender.out")
    end=$(cut -d' ' -f2 "$work/sender.out")
    kill -TERM $node; wait $node || true
    python3 - "$work/node.err" "$start" "$end" "$lines" <<'EOF'
import re, sys
summary = [l for l in open(sys.argv[1]) if l.startswith("sluice: events_in=")][-1]
values = dict(kv.split("=") for kv in summary.split()[1:] if "=" in kv)
start, end, lines = float(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4])
events, cpu = int(values["events_in"]), float(values["cpu_seconds"])
if events != lines: sys.exit(f"LOST: sent {lines} lines, the node framed {events}")
gigabytes = lines * 256 / 1e9
print(f"{gigabytes * 1e3 / (end - start):.1f} {cpu / gigabytes:.2f}")
EOF
}

echo "tcp → devnull, $connections connections x $mib MiB of 256 B lines, $workers workers, $runs runs each, interleaved"
: > "$work/results"
for r in $(seq "$runs"); do
    for mode in plain tls; do
        result=$(one $mode)
        echo "run $r $mode: $result  (MB/s, node CPU s per GB)"
        echo "$mode $result" >> "$work/results"
    done
done
python3 - "$work/results" <<'EOF'
import statistics, sys
rows = [l.split() for l in open(sys.argv[1])]
median = {m: (statistics.median(float(r[1]) for r in rows if r[0] == m), statistics.median(float(r[2]) for r in rows if r[0] == m))
          for m in ("plain", "tls")}
for m, (rate, cpu) in median.items():
    print(f"median {m:5}: {rate:8.1f} MB/s, {cpu:5.2f} CPU s per GB in the node")
print(f"tls / plain: {median['tls'][0] / median['plain'][0]:.2f}x the throughput, {median['tls'][1] / median['plain'][1]:.2f}x the node's CPU per GB")
EOF
