#!/usr/bin/env bash
# JSON speed on production-shaped logs, old against new binary, interleaved round by round:
#   perf/json-realistic.sh OLD_BINARY NEW_BINARY [ROUNDS] [WORKERS]
# Corpora: the one `sluice bench file-json-realistic` makes (NEW makes it: realistic-330000-seed11,
# ~1.1 GB), one of the same shape made by perf/realistic-corpus.py (other generator, other seed,
# 400 MB), and the flat bench file (file-json-devnull's). Each goes through
# `sluice run ... --action json_decode --output devnull` (the bench scenarios' pipeline, run the
# same way by both binaries) read in parallel (parallel=true) and as one stream; then the
# scenarios themselves on NEW (file-json-realistic, file-chain-realistic, file-json-devnull).
# Prints medians (MB/s) per row, and new/old.
set -euo pipefail
old=$1 new=$2 rounds=${3:-5} workers=${4:-2}
here=$(cd "$(dirname "$0")" && pwd)
data=/tmp/sluice-bench
mkdir -p "$data"
"$new" bench file-json-realistic --workers "$workers" --data-dir "$data" > /dev/null  # makes the corpus
"$new" bench file-json-devnull --workers "$workers" --data-dir "$data" > /dev/null
swift_corpus=$data/realistic-330000-seed11.ndjson
python_corpus=$data/realistic-py-seed3-400MB.ndjson
flat=$data/ndjson-1700000-seed42.ndjson
[ -s "$python_corpus" ] || python3 "$here/realistic-corpus.py" "$python_corpus" 400 3
out=$(mktemp -d)
run() {  # side, label, binary, run args... → "side label MB/s" from the exit summary
    local side=$1 label=$2 bin=$3; shift 3
    "$bin" run --admin off --workers "$workers" "$@" --action json_decode --output devnull 2>&1 \
        | grep -o 'mb_per_s=[0-9.]*' | cut -d= -f2 | sed "s/^/$side $label /" >> "$out/results"
}
bench() {  # label, scenario → "new label MB/s"
    local label=$1; shift
    "$new" bench "$@" --workers "$workers" --data-dir "$data" --json 2>/dev/null | tail -1 \
        | python3 -c 'import json,sys; print("new", sys.argv[1], json.loads(sys.stdin.read())["bytes_per_s"]/1e6)' "$label" >> "$out/results"
}
for r in $(seq "$rounds"); do
    for side in old new; do
        bin=$old; [ $side = new ] && bin=$new
        for corpus in swift python flat; do
            file=$swift_corpus; [ $corpus = python ] && file=$python_corpus; [ $corpus = flat ] && file=$flat
            cat "$file" > /dev/null
            run $side "$corpus-parallel" "$bin" --input "file:path=$file,parallel=true"
            cat "$file" > /dev/null
            run $side "$corpus-one-stream" "$bin" --input "file:path=$file"
        done
    done
    bench bench-file-json-realistic file-json-realistic
    bench bench-file-chain-realistic file-chain-realistic
    bench bench-file-json-devnull file-json-devnull
    echo "round $r done" >&2
done
python3 - "$out/results" <<'PY'
import sys, statistics, collections
values = collections.defaultdict(list)
order = []
for line in open(sys.argv[1]):
    side, label, value = line.split()
    values[(side, label)].append(float(value))
    if label not in order: order.append(label)
print(f"{'json_decode → devnull':30} {'old median':>11} {'new median':>11} {'new/old':>8}   (MB/s)")
for label in order:
    o, n = values.get(("old", label), []), values.get(("new", label), [])
    mo = statistics.median(o) if o else float("nan")
    mn = statistics.median(n)
    print(f"{label:30} {mo:11.1f} {mn:11.1f} {mn/mo if o else float('nan'):8.2f}   old {sorted(o)} new {sorted(n)}")
PY
