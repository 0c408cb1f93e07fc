#!/usr/bin/env bash
# Profiles one sluice run with perf (software event cpu-clock: these VMs expose no hardware
# counters) and prints the top symbols, demangled; folded stacks go to perf/out/.
#
#   perf/profile.sh [file-devnull|file-json-devnull|generator-json] [extra sluice run flags...]
#
# The input file is made once (perf/out/input.ndjson, ~1 GB of NDJSON lines of 100 B–2 KB).
set -euo pipefail
cd "$(dirname "$0")/.."
scenario="${1:-file-json-devnull}"
shift || true
out=perf/out
mkdir -p "$out"
command -v perf >/dev/null || { apt-get install -y -qq linux-perf >/dev/null 2>&1 || { echo "perf is not installed (apt-get install linux-perf)"; exit 1; }; }

# Release build with debug info so perf can name Swift frames.
swift build -c release -Xswiftc -g >/dev/null
bin=.build/release/sluice

input="$out/input.ndjson"
if [ ! -s "$input" ]; then
  python3 - "$input" <<'PY'
import random, sys
random.seed(42)
types = ["click", "view", "purchase", "login"]
with open(sys.argv[1], "w") as f:
    size = 0
    i = 0
    while size < 1_000_000_000:
        msg = "".join(random.choice("abcdefghijklmnopqrstuvwxyz ") for _ in range(random.randint(60, 1900)))
        line = '{"ts":%d,"type":"%s","user":"u%d","value":%d,"msg":"%s"}\n' % (1700000000000 + i, random.choice(types), random.randint(0, 9999), random.randint(0, 999), msg)
        f.write(line)
        size += len(line)
        i += 1
PY
fi
cat "$input" >/dev/null  # into the page cache

case "$scenario" in
  file-devnull) args=(--input "file:path=$input" --output devnull) ;;
  file-json-devnull) args=(--input "file:path=$input" --action json_decode --output devnull) ;;
  generator-json) args=(--input generator:count=5000000,size=512 --action json_decode --output devnull) ;;
  *) echo "unknown scenario $scenario"; exit 2 ;;
esac

perf record -q -g -e cpu-clock -o "$out/perf.data" "$bin" run "${args[@]}" "$@"
echo "== top symbols (self time) =="
perf report -i "$out/perf.data" --no-children --sort sym --stdio 2>/dev/null | grep -E '^ +[0-9]' | head -25 | swift demangle --simplified
perf script -i "$out/perf.data" 2>/dev/null | swift demangle --simplified | awk '
  /^[^ \t]/ { if (stack != "") print stack " 1"; stack = ""; next }
  /^[ \t]+[0-9a-f]+ / { sub(/^[ \t]+[0-9a-f]+ /, ""); sub(/\+0x[0-9a-f]+ .*$/, ""); sub(/ \(.*\)$/, ""); gsub(/;/, ":"); stack = (stack == "" ? $0 : $0 ";" stack) }
  END { if (stack != "") print stack " 1" }' | sort | uniq -c | awk '{n=$1; $1=""; sub(/^ /, ""); sub(/ 1$/, ""); print $0 " " n}' > "$out/folded.txt"
echo "folded stacks: $out/folded.txt (feed to flamegraph.pl)"
