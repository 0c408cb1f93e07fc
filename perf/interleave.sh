#!/usr/bin/env bash
# Several binaries interleaved round by round on `sluice bench SCENARIO --json` (default workers),
# the order of the binaries rotated each round; medians of rate and CPU seconds, and each binary's
# ratio to the first:
#   [ROUNDS=5] [SCENARIOS="ndjson-aggregate file-json-devnull tcp-file file-chain-realistic"] \
#   [DATA_DIR=/tmp/sluice-bench] perf/interleave.sh LABEL=BINARY LABEL=BINARY...
# Rate: events/s for ndjson-aggregate, MB/s otherwise. A binary without a scenario (an older one)
# is left out of that scenario's row.
set -euo pipefail
rounds=${ROUNDS:-5}
scenarios=${SCENARIOS:-ndjson-aggregate file-json-devnull tcp-file file-chain-realistic}
data=${DATA_DIR:-/tmp/sluice-bench}
[ $# -ge 1 ] || { echo "usage: perf/interleave.sh LABEL=BINARY..." >&2; exit 2; }
out=$(mktemp)
trap 'rm -f "$out"' EXIT
labels=("$@")
for r in $(seq "$rounds"); do
    for scenario in $scenarios; do
        for i in $(seq 0 $(($# - 1))); do
            entry=${labels[$(((i + r) % $#))]}
            label=${entry%%=*} bin=${entry#*=}
            line=$("$bin" bench "$scenario" --data-dir "$data" --json 2>/dev/null | tail -1) || true
            [[ $line == \{* ]] && echo "$label $scenario $line" >> "$out"
        done
    done
    echo "round $r done $(date -u +%T) load $(cut -d' ' -f1-3 /proc/loadavg)" >&2
done
python3 - "$out" "${labels[@]%%=*}" <<'PY'
import json, statistics, sys
rows = {}
for line in open(sys.argv[1]):
    label, scenario, text = line.split(" ", 2)
    rows.setdefault((scenario, label), []).append(json.loads(text))
labels = sys.argv[2:]
for scenario in dict.fromkeys(s for s, _ in rows):
    key, unit, scale = ("events_per_s", "M events/s", 1e6) if scenario == "ndjson-aggregate" else ("bytes_per_s", "MB/s", 1e6)
    first = None  # the first binary that ran the scenario: the ratios' base
    for label in labels:
        runs = rows.get((scenario, label))
        if not runs: continue
        rate = statistics.median(r[key] for r in runs) / scale
        cpu = statistics.median(r["cpu_seconds"] for r in runs)
        ratio = "" if first is None else f"  {rate / first[0]:.2f}x rate, {cpu / first[1]:.2f}x CPU of {first[2]}"
        first = first or (rate, cpu, label)
        print(f"{scenario:22} {label:10} {rate:9.1f} {unit:10} {cpu:6.2f} CPU s{ratio}")
        print(f"{'':33} rates {[round(r[key] / scale, 1) for r in runs]} CPU {[round(r['cpu_seconds'], 2) for r in runs]}")
PY
