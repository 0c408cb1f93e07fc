#!/usr/bin/env bash
# Binaries against each other on `sluice bench file-chain-realistic --workers 2`, interleaved
# round by round (each round runs every binary once, in turn), medians of MB/s and CPU seconds
# and their ratios to the first binary:
#   perf/chain.sh ROUNDS DATA_DIR LABEL=BINARY LABEL=BINARY...
# DATA_DIR holds the corpus (`realistic-330000-seed11.ndjson`, made by the first run when
# missing) and the chain's 1 GB output; give each session its own, as runs overwrite it.
set -euo pipefail
rounds=$1 data=$2; shift 2
mkdir -p "$data"
out=$(mktemp)
for r in $(seq "$rounds"); do
    for pair in "$@"; do
        label=${pair%%=*} bin=${pair#*=}
        line=$("$bin" bench file-chain-realistic --workers 2 --runs 1 --data-dir "$data" --json 2>/dev/null | tail -1)
        python3 -c 'import json,sys; d=json.loads(sys.argv[1]); print(sys.argv[2], sys.argv[3], round(d["bytes_per_s"]/1e6, 1), d["cpu_seconds"], round(d["peak_rss_bytes"]/1e6, 1))' \
            "$line" "$r" "$label" | tee -a "$out"
    done
done
python3 - "$out" "$@" <<'PY'
import statistics, sys
rows = [l.split() for l in open(sys.argv[1])]
labels = [p.split("=", 1)[0] for p in sys.argv[2:]]
med = {l: (statistics.median(float(r[2]) for r in rows if r[1] == l), statistics.median(float(r[3]) for r in rows if r[1] == l),
           statistics.median(float(r[4]) for r in rows if r[1] == l)) for l in labels}
base = med[labels[0]]
print("label  MB/s(median)  CPU s(median)  RSS MB  wall ratio  CPU ratio")
for l in labels:
    m = med[l]
    print(f"{l}  {m[0]:.0f}  {m[1]:.2f}  {m[2]:.0f}  {m[0]/base[0]:.2f}  {m[1]/base[1]:.2f}")
PY
rm -f "$out"
