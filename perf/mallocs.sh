#!/usr/bin/env bash
# Mallocs per event on the real binary's worker threads, counted by a uprobe on libc's malloc
# (perf probe): the Benchmarks/ malloc counts cover single actions and the encoder, this covers
# the whole worker loop (framing, actions, outputs, release). Fails when a pipeline's workers
# malloc more than MAX_PER_1000 times per 1,000 events (start-up and per-batch growth only).
#
#   perf/mallocs.sh [CORPUS] [MAX_PER_1000]
#
# CORPUS: NDJSON lines (default: 20 MB of perf/realistic-corpus.py's corpus, made when missing).
# Pipelines: json_decode → devnull; the realistic chain (json_decode, rename, remove_fields, mask,
# convert_date, throttle, discard, modify, add_file_name) → file; json_decode → discard →
# aggregate → file; json_decode → file behind a disk buffer (its position file is saved with
# a few Strings per save, not per event). `SLUICE=path` runs a given binary (default .build-bench/release/sluice).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
bin=${SLUICE:-$here/../.build-bench/release/sluice}
corpus=${1:-/tmp/sluice-bench/realistic-20MB.ndjson}
max=${2:-5}
mkdir -p "$(dirname "$corpus")"
[ -s "$corpus" ] || python3 "$here/realistic-corpus.py" "$corpus" 20 7
perf probe -q -x /lib/x86_64-linux-gnu/libc.so.6 malloc 2>/dev/null || true
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
status=0
count() {  # label, run args... → worker mallocs per 1,000 events
    local label=$1; shift
    perf record -q -e probe_libc:malloc -o "$out/perf.data" -- "$bin" run --admin off --workers 1 "$@" 2> "$out/summary" > /dev/null
    local events
    events=$(grep -o 'events_in=[0-9]*' "$out/summary" | cut -d= -f2)
    # The worker is the thread with the most events' work; the main thread's mallocs are
    # start-up (argument parsing, config): take the second busiest thread, the worker, by name.
    local worker
    worker=$(perf script -i "$out/perf.data" -F comm,tid 2>/dev/null | awk '$1 ~ /worker/ {n++} END {print n+0}')
    if [ "$worker" = 0 ]; then
        # Threads without names: every thread but the one that started the process.
        worker=$(perf script -i "$out/perf.data" -F tid 2>/dev/null | sort | uniq -c | sort -k2n | awk 'NR>1 {n+=$1} END {print n+0}')
    fi
    local per=$(( worker * 1000 / (events > 0 ? events : 1) ))
    printf '%-12s events %8d  worker mallocs %6d  per 1,000 events %d\n' "$label" "$events" "$worker" "$per"
    [ "$per" -le "$max" ] || status=1
}
count json "--input" "file:path=$corpus" --action json_decode --output devnull
count chain --input "file:path=$corpus" --action json_decode --action rename:from=user,to=user_id \
    --action 'remove_fields:field=f5_payment,field=f6_ошибка' --action 'mask:field=message,pattern=[0-9]{4\,}' \
    --action convert_date:field=ts,from=rfc3339,to=unixms --action throttle:key=service,limit=1000000000,interval=1s \
    --action discard:if-field=level,if-equals=fatal --action 'modify:field=pipeline,value=bench,if-field=service,if-equals=checkout' \
    --action add_file_name --output "file:path=$out/chain.ndjson"
count aggregate --input "file:path=$corpus" --action json_decode --action discard:if-field=level,if-equals=debug \
    --action aggregate:key=service,value=duration_ms --output "file:path=$out/aggregate.ndjson"
count disk-buffer --input "file:path=$corpus" --action json_decode \
    --output "file:path=$out/buffered.ndjson,buffer=disk,buffer-dir=$out/buffer,buffer-max-size=1GB"
exit $status
