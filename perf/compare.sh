#!/usr/bin/env bash
# Old against new binary, interleaved round by round on this machine, medians and ratios:
#   perf/compare.sh OLD_BINARY NEW_BINARY [ROUNDS] [CORPUS]
# Scenarios: sluice bench file-json-devnull, tcp-file and ndjson-aggregate (default workers);
# one stream (file-json-devnull --no-parallel) on --workers 1 and on the default workers; and
# CORPUS (production-shaped NDJSON, made by perf/realistic-corpus.py; default
# /tmp/sluice-bench/realistic-400MB.ndjson, made when missing) through json_decode → devnull as
# one stream, on 1 worker and on the default, and with parallel=true.
set -euo pipefail
old=$1 new=$2 rounds=${3:-5}
corpus=${4:-/tmp/sluice-bench/realistic-400MB.ndjson}
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$(dirname "$corpus")"
[ -s "$corpus" ] || python3 "$here/realistic-corpus.py" "$corpus" 400 7
out=$(mktemp -d)
bench() {  # binary, label, args... → appends "label value" (MB/s or events/s) to $out/results
    local bin=$1 label=$2; shift 2
    local line
    line=$("$bin" bench "$@" --json 2>/dev/null | tail -1)
    python3 -c 'import json,sys; d=json.loads(sys.argv[1]); print(sys.argv[2], d["bytes_per_s"]/1e6 if sys.argv[3]=="mb" else d["events_per_s"])' "$line" "$label" "${UNIT:-mb}" >> "$out/results"
}
run() {  # binary, label, run args... → MB/s from the exit summary
    local bin=$1 label=$2; shift 2
    cat "$corpus" > /dev/null
    "$bin" run --admin off "$@" 2>&1 | grep -o 'mb_per_s=[0-9.]*' | cut -d= -f2 | sed "s/^/$label /" >> "$out/results"
}
for r in $(seq "$rounds"); do
    for side in old new; do
        bin=$old; [ $side = new ] && bin=$new
        bench "$bin" "$side file-json-devnull" file-json-devnull
        bench "$bin" "$side file-json-devnull-one-stream-w1" file-json-devnull --no-parallel --workers 1
        bench "$bin" "$side file-json-devnull-one-stream" file-json-devnull --no-parallel
        bench "$bin" "$side tcp-file" tcp-file
        bench "$bin" "$side tcp-file-one-connection-w1" tcp-file --connections 1 --workers 1
        bench "$bin" "$side tcp-file-one-connection" tcp-file --connections 1
        UNIT=events bench "$bin" "$side ndjson-aggregate" ndjson-aggregate
        run "$bin" "$side realistic-json-one-stream-w1" --workers 1 --input "file:path=$corpus" --action json_decode --output devnull
        run "$bin" "$side realistic-json-one-stream" --input "file:path=$corpus" --action json_decode --output devnull
        run "$bin" "$side realistic-json-parallel" --input "file:path=$corpus,parallel=true" --action json_decode --output devnull
    done
    echo "round $r done" >&2
done
python3 - "$out/results" <<'PY'
import sys, statistics, collections
values = collections.defaultdict(list)
for line in open(sys.argv[1]):
    *label, value = line.split()
    values[tuple(label)].append(float(value))
names = sorted({label[1] for label in values}, key=lambda n: list(dict.fromkeys(l[1] for l in values)).index(n))
print(f"{'scenario':40} {'old median':>12} {'new median':>12} {'new/old':>8}   (MB/s; ndjson-aggregate: events/s)")
for name in names:
    o, n = values.get(("old", name), []), values.get(("new", name), [])
    if not o or not n: continue
    mo, mn = statistics.median(o), statistics.median(n)
    print(f"{name:40} {mo:12.1f} {mn:12.1f} {mn/mo:8.2f}   old {sorted(o)} new {sorted(n)}")
PY
