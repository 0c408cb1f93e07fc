#!/usr/bin/env bash
# The machine's own limits, measured in the same run as Sluice, and Sluice's share of them:
#  - file: pread(2) + memchr over the same ~1.8 GB NDJSON file (page cache warm) on as many
#    threads as Sluice has workers, each over its own range, against `sluice bench file-devnull`;
#  - tcp: loopback TCP, iperf3 over 127.0.0.1 with 8 streams, against `sluice bench tcp-file`;
#  - scaling: 1 -> 2 threads of two C loops over the same file, interleaved with `sluice bench
#    file-json-devnull` on 1 and 2 workers: `tokens` (a JSON tokenizer walking the read buffer:
#    pure compute) and `slots` (each line copied into a 4 KiB slot of an 8 MiB ring first, then
#    tokenized: the memory traffic of a reader with an event pool). What a second vCPU gives
#    this kind of work right now; the median of the per-round ratios is printed;
#  - latency: the latency scenario's path in plain C (`perf/latpath.c`: paced sender -> loopback
#    TCP -> one thread appending to a file with write(2), or with io_uring as Sluice does ->
#    inotify reader), interleaved with `sluice bench latency`: the tail this machine gives any
#    program on that path; and the same C sender and reader against a `sluice run` process
#    (`latpath ... port:N`), so the harness is the same for C and Sluice; and tcp -> tcp through
#    Sluice (`latpath ... relay:N:M`: no file, no inotify, no io-wq hand-off);
#  - hiccups: one pinned thread per CPU spinning on the clock for 10 s (`perf/hiccup.c`): how
#    often and how long this machine takes a CPU away from a running thread. No program's tail
#    latency can be shorter than these gaps.
#
#   perf/limits.sh [WORKERS=2] [RUNS=3] [PARTS=file,tcp,scaling,latency,hiccups]
set -euo pipefail
cd "$(dirname "$0")/.."
workers="${1:-2}"
runs="${2:-3}"
parts=",${3:-file,tcp,scaling,latency,hiccups},"
out="$PWD/perf/out/limits"
mkdir -p "$out"
export DEBIAN_FRONTEND=noninteractive
gcc -O2 -pthread perf/readscan.c -o "$out/readscan"
gcc -O2 -pthread perf/latpath.c -o "$out/latpath" -luring
gcc -O2 -pthread perf/hiccup.c -o "$out/hiccup"
swift build -c release --product sluice >/dev/null
sluice=.build/release/sluice
median() { sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }
field() { python3 -c "import json,sys; print(json.load(sys.stdin)['$1'] / ${2:-1})"; }
want() { [[ $parts == *",$1,"* ]]; }

# Sluice first: it makes (and caches) the data file.
"$sluice" bench file-devnull --events 1700000 --runs 1 >/dev/null
data=$(ls -S /tmp/sluice-bench/ndjson-*-seed42.ndjson | head -1)

if want file; then
  s_file=$(for _ in $(seq 1 "$runs"); do "$sluice" bench file-devnull --workers "$workers" --json | tail -1 | field bytes_per_s 1e9; done | median)
  c_file=$(for _ in $(seq 1 "$runs"); do "$out/readscan" "$data" "$workers" | awk '{ print $4 }'; done | median)
  echo "file: read+memchr limit ${c_file} GB/s (${workers} threads); sluice file-devnull (${workers} workers) ${s_file} GB/s"
  awk -v s="$s_file" -v c="$c_file" 'BEGIN { printf "file: sluice share of the read+memchr limit = %.0f%%\n", 100 * s / c }'
fi

if want tcp; then
  dpkg -s iperf3 >/dev/null 2>&1 || apt-get install -y -qq iperf3 >/dev/null
  iperf3 -s -1 -B 127.0.0.1 -p 15201 >/dev/null 2>&1 &
  sleep 0.5
  net=$(iperf3 -c 127.0.0.1 -p 15201 -P 8 -t 5 -J | python3 -c 'import json,sys; print(json.load(sys.stdin)["end"]["sum_received"]["bits_per_second"] / 8e9)')
  s_tcp=$(for _ in $(seq 1 "$runs"); do "$sluice" bench tcp-file --workers "$workers" --seconds 5 --json | tail -1 | field bytes_per_s 1e9; done | median)
  echo "tcp: loopback limit (iperf3, 8 streams) ${net} GB/s; sluice tcp-file (${workers} workers, 8 connections, into a file) ${s_tcp} GB/s"
  awk -v s="$s_tcp" -v c="$net" 'BEGIN { printf "tcp: sluice share of the loopback limit = %.0f%%\n", 100 * s / c }'
fi

if want scaling; then
  # One line per round: tokens 1 2, slots 1 2, sluice 1 2 (GB/s).
  for _ in $(seq 1 "$runs"); do
    row=""
    for t in 1 2; do row+=" $("$out/readscan" "$data" "$t" tokens | awk '{ print $4 }')"; done
    for t in 1 2; do row+=" $("$out/readscan" "$data" "$t" slots | awk '{ print $4 }')"; done
    for t in 1 2; do row+=" $("$sluice" bench file-json-devnull --workers "$t" --json | tail -1 | field bytes_per_s 1e9)"; done
    echo "$row"
  done > "$out/scaling.txt"
  col() { awk -v c="$1" '{ print $c }' "$out/scaling.txt" | median; }
  ratio() { awk -v a="$1" -v b="$2" '{ print $b / $a }' "$out/scaling.txt" | median; }
  printf "scaling (medians of %s rounds; ratio = median of the per-round ratios):\n" "$runs"
  printf "  C tokenizer          1 -> 2 threads: %.2f -> %.2f GB/s, %.2fx\n" "$(col 1)" "$(col 2)" "$(ratio 1 2)"
  printf "  C copy into slots    1 -> 2 threads: %.2f -> %.2f GB/s, %.2fx\n" "$(col 3)" "$(col 4)" "$(ratio 3 4)"
  printf "  sluice file-json-devnull 1 -> 2 workers: %.2f -> %.2f GB/s, %.2fx\n" "$(col 5)" "$(col 6)" "$(ratio 5 6)"
fi

if want latency; then
  # Latency at 100k lines/s, 4 s each, interleaved, RUNS rounds: p50 p99 p99.9 in microseconds.
  lat_file="$out/latpath-out.ndjson"
  for _ in $(seq 1 "$runs"); do
    echo "c-write $("$out/latpath" "$lat_file" 100000 4 write)"
    echo "c-uring $("$out/latpath" "$lat_file" 100000 4 uring)"
    echo "sluice $("$sluice" bench latency --workers "$workers" --seconds 4 --json | tail -1 | python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["latency_p50_us"], d["latency_p99_us"], d["latency_p999_us"])')"
    # The C harness against a sluice process.
    port=$((20000 + RANDOM % 20000))
    node_out="$out/latency-node-out.ndjson"
    rm -f "$node_out"
    "$sluice" run --admin off --workers "$workers" --input "tcp:listen=127.0.0.1:$port" --output "file:path=$node_out" 2>"$out/latency-node.log" &
    node=$!
    for _ in $(seq 1 250); do [[ -f $node_out ]] && ss -ltn | grep -q ":$port " && break; sleep 0.02; done
    echo "sluice-c-harness $("$out/latpath" "$node_out" 100000 4 "port:$port")"
    kill -TERM "$node"; wait "$node"
    # tcp -> tcp: the C sender into sluice, sluice's tcp output back to the C reader (no file).
    back=$((port + 1))
    "$out/latpath" /dev/null 100000 4 "relay:$port:$back" > "$out/latency-relay.txt" &
    relay=$!
    sleep 0.1
    "$sluice" run --admin off --workers "$workers" --input "tcp:listen=127.0.0.1:$port" --output "tcp:address=127.0.0.1:$back" 2>"$out/latency-relay-node.log" &
    node=$!
    wait "$relay"
    echo "sluice-tcp-relay $(cat "$out/latency-relay.txt")"
    kill -TERM "$node"; wait "$node"
  done > "$out/latency.txt"
  for k in c-write c-uring sluice sluice-c-harness sluice-tcp-relay; do
    p50=$(awk -v k="$k" '$1 == k { print $2 }' "$out/latency.txt" | median)
    p99=$(awk -v k="$k" '$1 == k { print $3 }' "$out/latency.txt" | median)
    p999=$(awk -v k="$k" '$1 == k { print $4 }' "$out/latency.txt" | median)
    case $k in
      c-write) what="C, write(2) in the receiving thread";;
      c-uring) what="C, io_uring write (punted to io-wq for ext4)";;
      sluice) what="sluice bench latency (${workers} workers)";;
      sluice-c-harness) what="sluice run (${workers} workers) under the C sender and reader";;
      sluice-tcp-relay) what="sluice run (${workers} workers) tcp -> tcp, C sender and reader (no file)";;
    esac
    echo "latency: ${what}: p50 ${p50} us, p99 ${p99} us, p99.9 ${p999} us (median of ${runs})"
  done
fi

if want hiccups; then
  echo "hiccups (10 s, one pinned thread per CPU spinning on the clock, gaps > 20 us):"
  "$out/hiccup" 10 20 | sed 's/^/  /'
fi
