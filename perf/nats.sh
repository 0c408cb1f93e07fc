#!/usr/bin/env bash
# file → NATS JetStream → file: Sluice's nats output and input beside plain libnats programs
# (perf/nats-bench.c: js_PublishAsync with the same window; a pull consumer fetching the same
# batch and acknowledging each message) on the same lines, in the same run, against one Debian
# nats-server with JetStream started here in a temporary directory on 127.0.0.1 (file store).
#
#     perf/nats.sh [LINES] [WINDOW] [BATCH]
#
# SLUICE=path runs a given binary (default: the release build in .build-bench). Lines are JSON
# log events `{"ts":…,"level":…,"service":…,"user":…,"latency_ms":…,"msg":…}` (about 150 B, as
# in perf/clickhouse.sh). The publishers get a fresh stream each; the Sluice input is timed from
# its start until its output file holds every line.
set -euo pipefail
cd "$(dirname "$0")/.."
LINES=${1:-500000}
WINDOW=${2:-512}
BATCH=${3:-256}
# The output batch: above half the window, so one buffer's messages go out while the other waits for PubAcks.
OUTPUT_BATCH=${OUTPUT_BATCH:-1024}
SLUICE=${SLUICE:-.build-bench/release/sluice}
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
echo "lines: $LINES ($BYTES B), window $WINDOW, fetch batch $BATCH, output batch $OUTPUT_BATCH, $(nproc) CPUs"

stream fresh
"$DIR/nats-bench" publish "$URL" PERF perf.app "$DIR/lines.ndjson" "$WINDOW"

stream fresh
START=$(date +%s.%N)
"$SLUICE" run --admin off --batch-size "$OUTPUT_BATCH" --input "file:path=$DIR/lines.ndjson" \
    --output "nats:url=$URL,subject=perf.app,stream=PERF,window=$WINDOW" 2> "$DIR/sluice-out.log"
END=$(date +%s.%N)
tail -1 "$DIR/sluice-out.log"
python3 -c "print('sluice file→nats: %d messages in %.3f s: %.0f messages/s (stream holds %s)' % ($LINES, $END-$START, $LINES/($END-$START), '$(stream count)'))"

"$DIR/nats-bench" consume "$URL" PERF c-consumer "$LINES" "$BATCH"

START=$(date +%s.%N)
"$SLUICE" run --admin off --input "nats:url=$URL,stream=PERF,consumer=sluice,batch=$BATCH" \
    --output "file:path=$DIR/out.ndjson" 2> "$DIR/sluice-in.log" &
NODE=$!
while [ "$(stat -c %s "$DIR/out.ndjson" 2>/dev/null || echo 0)" -lt "$BYTES" ]; do sleep 0.01; done
END=$(date +%s.%N)
kill -TERM $NODE; wait $NODE || true
tail -1 "$DIR/sluice-in.log"
python3 -c "print('sluice nats→file: %d messages in %.3f s: %.0f messages/s' % ($LINES, $END-$START, $LINES/($END-$START)))"
