#!/usr/bin/env bash
# file → NATS JetStream → file: Sluice's nats output and input beside plain libnats programs
# (perf/nats-bench.c: js_PublishAsync with the same window; a pull consumer fetching the same
# batch and acknowledging each message, and one pulling continuously) on the same lines, in the same run, against one Debian
# nats-server with JetStream started here in a temporary directory on 127.0.0.1 (file store).
#
#     perf/nats.sh [LINES] [WINDOW] [BATCH]
#
# SLUICE=path runs a given binary (default: the release build in .build-bench); OLD=path runs a
# second one beside it in every round (before/after a change). ROUNDS=N repeats each comparison
# N times, the C programs and Sluice interleaved, and prints the median ratios;
# PUBLISH_ONLY=1 skips the consumer comparison. OUTPUT_BATCH sets the output's --batch-size
# (empty: the node's default). Lines are JSON
# log events `{"ts":…,"level":…,"service":…,"user":…,"latency_ms":…,"msg":…}` (about 150 B, as
# in perf/clickhouse.sh). The publishers get a fresh stream each; the Sluice input is timed from
# its start until its output file holds every line.
set -euo pipefail
cd "$(dirname "$0")/.."
LINES=${1:-500000}
WINDOW=${2:-512}
BATCH=${3:-256}
# The output's --batch-size; empty: the node's default.
OUTPUT_BATCH=${OUTPUT_BATCH-}
SLUICE=${SLUICE:-.build-bench/release/sluice}
OLD=${OLD:-}
ROUNDS=${ROUNDS:-1}
PUBLISH_ONLY=${PUBLISH_ONLY:-0}
DIR=$(mktemp -d /tmp/sluice-nats-perf.XXXXXX)
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
URL=nats://127.0.0.1:$PORT
nats-server -js -sd "$DIR/store" -a 127.0.0.1 -p "$PORT" -l "$DIR/server.log" &
SERVER=$!
trap 'kill -9 $SERVER 2>/dev/null; rm -rf "$DIR"' EXIT
cc -O2 -o "$DIR/nats-bench" perf/nats-bench.c -lnats
python3 - "$DIR/lines.ndjson" "$LINES" <<'PY'
import json, random, sys
rng = random.Random(7)
with open(sys.argv[1], "w") as f:
    for i in range(int(sys.argv[2])):
        f.write(json.dumps({"ts": 1700000000000 + i, "level": rng.choice(["debug", "info", "warn", "error"]),
                            "service": rng.choice(["checkout", "auth", "search", "billing"]), "user": "u%d" % rng.randrange(100000),
                            "latency_ms": rng.randrange(2000), "msg": "request handled in the usual way, nothing to see"},
                           separators=(",", ":")) + "\n")
PY
BYTES=$(stat -c %s "$DIR/lines.ndjson")

stream() {  # stream ACTION: fresh | count
    python3 - "$URL" "$1" <<'PY'
import asyncio, sys, nats
from nats.js.api import StreamConfig
async def main():
    nc = await nats.connect(sys.argv[1])
    js = nc.jetstream()
    if sys.argv[2] == "fresh":
        try: await js.delete_stream("PERF")
        except Exception: pass
        await js.add_stream(StreamConfig(name="PERF", subjects=["perf.>"]))
    else:
        print((await js.stream_info("PERF")).state.messages)
    await nc.close()
asyncio.run(main())
PY
}

sleep 0.5
echo "lines: $LINES ($BYTES B), window $WINDOW, fetch batch $BATCH, output batch ${OUTPUT_BATCH:-default}, $(nproc) CPUs, $ROUNDS round(s)"
BATCH_FLAG=()
[ -n "$OUTPUT_BATCH" ] && BATCH_FLAG=(--batch-size "$OUTPUT_BATCH")

publish_sluice() {  # publish_sluice BINARY NAME: prints messages/s; its CPU seconds go to $DIR/cpu-NAME
    stream fresh
    local start end
    start=$(date +%s.%N)
    "$1" run --admin off "${BATCH_FLAG[@]}" --input "file:path=$DIR/lines.ndjson" \
        --output "nats:url=$URL,subject=perf.app,stream=PERF,window=$WINDOW" 2> "$DIR/sluice-out.log"
    end=$(date +%s.%N)
    local held
    held=$(stream count)
    [ "$held" -ge "$LINES" ] || { echo "the stream holds $held messages, not $LINES" >&2; exit 1; }
    python3 -c "print('%.0f' % ($LINES/($end-$start)))"
    sed -n 's/.*cpu_seconds=\([0-9.]*\).*/\1/p' "$DIR/sluice-out.log" | tail -1 > "$DIR/cpu-$2"
}

RATIOS=""
OLD_RATIOS=""
for round in $(seq 1 "$ROUNDS"); do
    stream fresh
    C=$("$DIR/nats-bench" publish "$URL" PERF perf.app "$DIR/lines.ndjson" "$WINDOW" | sed -n 's/.* s: \([0-9]*\) messages\/s.*/\1/p')
    S=$(publish_sluice "$SLUICE" new)
    line="round $round: c-publisher $C/s, sluice file→nats $S/s ($(python3 -c "print('%.0f' % (100*$S/$C))") %, cpu $(cat "$DIR/cpu-new") s)"
    RATIOS="$RATIOS $(python3 -c "print($S/$C)")"
    if [ -n "$OLD" ]; then
        O=$(publish_sluice "$OLD" old)
        line="$line, old $O/s ($(python3 -c "print('%.0f' % (100*$O/$C))") %, cpu $(cat "$DIR/cpu-old") s)"
        OLD_RATIOS="$OLD_RATIOS $(python3 -c "print($O/$C)")"
    fi
    echo "$line (load $(cut -d' ' -f1 /proc/loadavg))"
done
median() { python3 -c "import statistics,sys; print('%.0f %%' % (100*statistics.median(map(float, sys.argv[1:]))))" $1; }
echo "median sluice / c-publisher: $(median "$RATIOS")${OLD:+, old: $(median "$OLD_RATIOS")}"
[ "$PUBLISH_ONLY" = 1 ] && exit 0

drain_sluice() {  # drain_sluice BINARY CONSUMER: prints messages/s, from its start until its output holds every line
    rm -f "$DIR/out.ndjson"
    local start end node
    start=$(date +%s.%N)
    "$1" run --admin off --input "nats:url=$URL,stream=PERF,consumer=$2,batch=$BATCH" \
        --output "file:path=$DIR/out.ndjson" 2> "$DIR/sluice-in.log" &
    node=$!
    while [ "$(stat -c %s "$DIR/out.ndjson" 2>/dev/null || echo 0)" -lt "$BYTES" ]; do sleep 0.01; done
    end=$(date +%s.%N)
    kill -TERM $node; wait $node || true
    python3 -c "print('%.0f' % ($LINES/($end-$start)))"
}

# Every round drains the same stream through new durable consumers: the C fetch loop (the
# baseline), the C program pulling continuously (what libnats can do), Sluice (and OLD).
IN_RATIOS=""
OLD_IN_RATIOS=""
for round in $(seq 1 "$ROUNDS"); do
    C=$("$DIR/nats-bench" consume "$URL" PERF c$round "$LINES" "$BATCH" | sed -n 's/.* s: \([0-9]*\) messages\/s.*/\1/p')
    P=$("$DIR/nats-bench" pull "$URL" PERF p$round "$LINES" "$BATCH" | sed -n 's/.* s: \([0-9]*\) messages\/s.*/\1/p')
    S=$(drain_sluice "$SLUICE" s$round)
    line="round $round: c-consumer $C/s, c-pull $P/s, sluice nats→file $S/s ($(python3 -c "print('%.0f %% of c-consumer, %.0f %% of c-pull' % (100*$S/$C, 100*$S/$P))"))"
    IN_RATIOS="$IN_RATIOS $(python3 -c "print($S/$C)")"
    if [ -n "$OLD" ]; then
        O=$(drain_sluice "$OLD" o$round)
        line="$line, old $O/s ($(python3 -c "print('%.0f' % (100*$O/$C))") %)"
        OLD_IN_RATIOS="$OLD_IN_RATIOS $(python3 -c "print($O/$C)")"
    fi
    echo "$line (load $(cut -d' ' -f1 /proc/loadavg))"
done
tail -1 "$DIR/sluice-in.log"
echo "median sluice nats→file / c-consumer: $(median "$IN_RATIOS")${OLD:+, old: $(median "$OLD_IN_RATIOS")}"
