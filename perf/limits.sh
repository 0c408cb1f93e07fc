#!/usr/bin/env bash
# The machine's own limits, measured in the same run as Sluice, and Sluice's share of them:
#  - file: pread(2) + memchr over the same ~1.8 GB NDJSON file (page cache warm) on as many
#    threads as Sluice has workers, each over its own range, against `sluice bench file-devnull`;
#  - loopback TCP: iperf3 over 127.0.0.1 with N streams, against `sluice bench tcp-file`.
#
#   perf/limits.sh [WORKERS=2] [RUNS=3]
set -euo pipefail
cd "$(dirname "$0")/.."
workers="${1:-2}"
runs="${2:-3}"
out="$PWD/perf/out/limits"
mkdir -p "$out"
export DEBIAN_FRONTEND=noninteractive
dpkg -s iperf3 >/dev/null 2>&1 || apt-get install -y -qq iperf3 >/dev/null
gcc -O2 -pthread perf/readscan.c -o "$out/readscan"
swift build -c release >/dev/null
sluice=.build/release/sluice
median() { sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }

# Sluice first: it makes (and caches) the data file.
s_file=$(for _ in $(seq 1 "$runs"); do "$sluice" bench file-devnull --workers "$workers" --json | tail -1 | python3 -c 'import json,sys; print(json.load(sys.stdin)["bytes_per_s"] / 1e9)'; done | median)
data=$(ls -S /tmp/sluice-bench/ndjson-*-seed42.ndjson | head -1)
c_file=$(for _ in $(seq 1 "$runs"); do "$out/readscan" "$data" "$workers" | awk '{ print $4 }'; done | median)

iperf3 -s -1 -B 127.0.0.1 -p 15201 >/dev/null 2>&1 &
sleep 0.5
net=$(iperf3 -c 127.0.0.1 -p 15201 -P 8 -t 5 -J | python3 -c 'import json,sys; print(json.load(sys.stdin)["end"]["sum_received"]["bits_per_second"] / 8e9)')
s_tcp=$(for _ in $(seq 1 "$runs"); do "$sluice" bench tcp-file --workers "$workers" --seconds 5 --json | tail -1 | python3 -c 'import json,sys; print(json.load(sys.stdin)["bytes_per_s"] / 1e9)'; done | median)

echo "file: read+memchr limit ${c_file} GB/s (${workers} threads); sluice file-devnull (${workers} workers) ${s_file} GB/s"
awk -v s="$s_file" -v c="$c_file" 'BEGIN { printf "file: sluice share of the read+memchr limit = %.0f%%\n", 100 * s / c }'
echo "tcp: loopback limit (iperf3, 8 streams) ${net} GB/s; sluice tcp-file (${workers} workers, 8 connections, into a file) ${s_tcp} GB/s"
awk -v s="$s_tcp" -v c="$net" 'BEGIN { printf "tcp: sluice share of the loopback limit = %.0f%%\n", 100 * s / c }'
