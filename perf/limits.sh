#!/usr/bin/env bash
# The machine's own limits, measured in the same run as Sluice, and Sluice's share of them:
#  - file: pread(2) + memchr over the same ~1.8 GB NDJSON file (page cache warm) on as many
#    threads as Sluice has workers, each over its own range, against `sluice bench file-devnull`;
#  - loopback TCP: iperf3 over 127.0.0.1 with N streams, against `sluice bench tcp-file`;
#  - scaling 1 -> 2 threads of a compute-bound C loop (a JSON tokenizer over the same file,
#    `perf/readscan.c ... tokens`) against `sluice bench file-json-devnull` 1 -> 2 workers,
#    interleaved: what a second vCPU gives right now;
#  - latency: the latency scenario's path in plain C (`perf/latpath.c`: paced sender -> loopback
#    TCP -> one thread appending to a file with write(2), or with io_uring as Sluice does ->
#    inotify reader), interleaved with `sluice bench latency`: the tail this machine gives any
#    program on that path.
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
gcc -O2 -pthread perf/latpath.c -o "$out/latpath" -luring
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

# Scaling: 1 and 2 threads/workers, interleaved, RUNS rounds.
for _ in $(seq 1 "$runs"); do
  for t in 1 2; do
    echo "c$t $("$out/readscan" "$data" "$t" tokens | awk '{ print $4 }')"
    echo "s$t $("$sluice" bench file-json-devnull --workers "$t" --json | tail -1 | python3 -c 'import json,sys; print(json.load(sys.stdin)["bytes_per_s"] / 1e9)')"
  done
done > "$out/scaling.txt"
pick() { awk -v k="$1" '$1 == k { print $2 }' "$out/scaling.txt" | median; }
c1=$(pick c1); c2=$(pick c2); s1=$(pick s1); s2=$(pick s2)
awk -v c1="$c1" -v c2="$c2" -v s1="$s1" -v s2="$s2" 'BEGIN {
  printf "scaling: C tokenizer 1 -> 2 threads %.2f -> %.2f GB/s (%.2fx); sluice file-json-devnull 1 -> 2 workers %.2f -> %.2f GB/s (%.2fx)\n", c1, c2, c2 / c1, s1, s2, s2 / s1 }'

# Latency at 100k lines/s, 4 s each, interleaved, RUNS rounds: p50 p99 p99.9 in microseconds.
lat_file="$out/latpath-out.ndjson"
for _ in $(seq 1 "$runs"); do
  echo "c-write $("$out/latpath" "$lat_file" 100000 4 write)"
  echo "c-uring $("$out/latpath" "$lat_file" 100000 4 uring)"
  echo "sluice $("$sluice" bench latency --workers "$workers" --seconds 4 --json | tail -1 | python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["latency_p50_us"], d["latency_p99_us"], d["latency_p999_us"])')"
done > "$out/latency.txt"
for k in c-write c-uring sluice; do
  p50=$(awk -v k="$k" '$1 == k { print $2 }' "$out/latency.txt" | median)
  p99=$(awk -v k="$k" '$1 == k { print $3 }' "$out/latency.txt" | median)
  p999=$(awk -v k="$k" '$1 == k { print $4 }' "$out/latency.txt" | median)
  case $k in
    c-write) what="C, write(2) in the receiving thread";;
    c-uring) what="C, io_uring write (punted to io-wq for ext4)";;
    sluice) what="sluice bench latency (${workers} workers)";;
  esac
  echo "latency: ${what}: p50 ${p50} us, p99 ${p99} us, p99.9 ${p999} us (median of ${runs})"
done
