#!/usr/bin/env bash
# Resident memory of the real binary under load: tcp → json_decode → file at default settings,
# fed by the C load generator of perf/peers.sh (8 connections of 256 B lines, restarted until
# the time is up). Prints VmRSS every 5 s, the VmHWM peak, the exit summary's peak_rss_mb, and
# where the memory sits halfway through (perf/out/memory/smaps*.txt, grouped by mapping).
# The output file is truncated every 5 s (it is opened O_APPEND) so the disk does not fill.
#
#   perf/memory.sh [SECONDS=60] [extra sluice run flags...]
#   SLUICE=path/to/sluice perf/memory.sh ...   (default: builds .build/release/sluice)
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-60}"
shift || true
out="$PWD/perf/out/memory"
mkdir -p "$out" "$PWD/perf/out/peers"
gcc -O2 -pthread perf/loadgen.c -o "$PWD/perf/out/peers/loadgen"
if [ -z "${SLUICE:-}" ]; then swift build -c release --product sluice >/dev/null; SLUICE=.build/release/sluice; fi
port=15600
rm -f "$out/sink.ndjson"

"$SLUICE" run --input "tcp:listen=127.0.0.1:$port" --action json_decode --output "file:path=$out/sink.ndjson" \
  --admin off "$@" 2> "$out/sluice.log" &
pid=$!
for _ in $(seq 1 200); do (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null && break; sleep 0.05; done
echo "idle: $(awk '/VmRSS/ { printf "%.1f MB", $2 / 1024 }' /proc/$pid/status)"

( end=$(( $(date +%s) + seconds )); while [ "$(date +%s)" -lt "$end" ]; do perf/out/peers/loadgen "$port" 8 3000000 >/dev/null; done ) &
load=$!
for t in $(seq 5 5 "$seconds"); do
  sleep 5
  : > "$out/sink.ndjson"
  echo "$t s: $(awk '/VmRSS/ { printf "%.1f MB", $2 / 1024 }' /proc/$pid/status)"
  if [ "$t" -eq $(( seconds / 2 / 5 * 5 )) ]; then
    cp /proc/$pid/smaps_rollup "$out/smaps_rollup.txt"
    cp /proc/$pid/smaps "$out/smaps.txt"
  fi
done
echo "peak (VmHWM): $(awk '/VmHWM/ { printf "%.1f MB", $2 / 1024 }' /proc/$pid/status)"
wait "$load" 2>/dev/null || true
kill -TERM "$pid"
wait "$pid" || true
tail -2 "$out/sluice.log"
rm -f "$out/sink.ndjson"

# The largest resident mappings: anonymous ones by size and flags (the event pool's slabs carry
# `hg`, MADV_HUGEPAGE), file-backed ones by path.
python3 - "$out/smaps.txt" <<'PY'
import re, sys
rows, cur = [], None
for line in open(sys.argv[1]):
    m = re.match(r"^([0-9a-f]+)-([0-9a-f]+) \S+ \S+ \S+ \S+\s*(.*)$", line)
    if m:
        cur = {"kb": (int(m[2], 16) - int(m[1], 16)) // 1024, "name": m[3] or "[anon]", "rss": 0, "thp": 0, "flags": ""}
        rows.append(cur)
    elif line.startswith("Rss:"): cur["rss"] = int(line.split()[1])
    elif line.startswith("AnonHugePages:"): cur["thp"] = int(line.split()[1])
    elif line.startswith("VmFlags:"): cur["flags"] = line.split(":", 1)[1].strip()
anon = sum(r["rss"] for r in rows if r["name"].startswith("["))
print(f"resident: {sum(r['rss'] for r in rows)} kB, anonymous {anon} kB, file-backed {sum(r['rss'] for r in rows) - anon} kB")
for r in sorted(rows, key=lambda r: -r["rss"])[:15]:
    huge = " hg" if " hg" in " " + r["flags"] else ""
    print(f"{r['rss']:8d} kB of {r['kb']:8d} kB  huge {r['thp']:6d} kB{huge:3s}  {r['name']}")
PY
