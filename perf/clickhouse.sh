#!/usr/bin/env bash
# file → ClickHouse: Sluice's clickhouse output beside ClickHouse's own bulk loader
# (`clickhouse-client --query 'INSERT … FORMAT JSONEachRow' < file`) on the same rows, in the
# same run, against one Debian clickhouse-server started here from a config in a temporary
# directory on 127.0.0.1 (never as a service).
#
#     perf/clickhouse.sh [ROWS] [RUNS] [sluice run flags…]
#
# SLUICE=path runs a given binary (default: the release build in .build-bench). CONNECTIONS="1 2"
# runs sluice once per value (the output's connections=N) after the same clickhouse-client load. Rows are
# `{"ts":…,"level":…,"service":…,"user":…,"latency_ms":…,"msg":…}` (about 150 B each).
# CORPUS=realistic: ROWS is megabytes of perf/realistic-corpus.py instead (100 B–12 KB lines,
# nested objects, escapes, non-ASCII), into five String columns (ts, level, service, user,
# message); both sides skip the other fields (`input_format_skip_unknown_fields=1`, the output's
# `skip-unknown-fields=true`).
# Per run: rows/s and MB/s (of the NDJSON file) of each, sluice's peak RSS, the ratio; then the
# medians (of the times) over the runs. Fails when a table does not have every row.
set -euo pipefail
cd "$(dirname "$0")/.."
ROWS=${1:-1000000}
RUNS=${2:-3}
shift $(( $# > 2 ? 2 : $# ))
SLUICE=${SLUICE:-.build-bench/release/sluice}
DIR=$(mktemp -d /tmp/sluice-ch-perf.XXXXXX)
HTTP_PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
NATIVE_PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cat > "$DIR/config.xml" <<XML
<yandex>
  <logger><level>warning</level><console>1</console></logger>
  <http_port>$HTTP_PORT</http_port><tcp_port>$NATIVE_PORT</tcp_port><listen_host>127.0.0.1</listen_host>
  <path>$DIR/data/</path><tmp_path>$DIR/tmp/</tmp_path><user_files_path>$DIR/user_files/</user_files_path>
  <format_schema_path>$DIR/format_schemas/</format_schema_path>
  <users_config>users.xml</users_config><default_profile>default</default_profile><default_database>default</default_database>
  <mark_cache_size>5368709</mark_cache_size>
</yandex>
XML
cat > "$DIR/users.xml" <<XML
<yandex><profiles><default></default></profiles>
<users><default><password></password><networks><ip>127.0.0.1</ip></networks><profile>default</profile><quota>default</quota></default></users>
<quotas><default></default></quotas></yandex>
XML
(cd "$DIR" && exec /usr/sbin/clickhouse-server --config-file="$DIR/config.xml" >"$DIR/server.log" 2>&1) &
SERVER=$!
trap 'kill -9 $SERVER 2>/dev/null; rm -rf "$DIR"' EXIT
C="clickhouse-client --host 127.0.0.1 --port $NATIVE_PORT"
# CPU seconds clickhouse-server has used so far (one process: utime + stime of all its threads).
server_cpu() { awk -v t="$(getconf CLK_TCK)" '{ sub(/.*\) /, ""); printf "%.2f\n", ($12 + $13) / t }' "/proc/$SERVER/stat"; }
for _ in $(seq 100); do $C --query 'SELECT 1' >/dev/null 2>&1 && break; sleep 0.2; done
LOADER_SETTINGS="" SKIP=""
if [ "${CORPUS:-small}" = realistic ]; then
    python3 perf/realistic-corpus.py "$DIR/rows.ndjson" "$ROWS" 7
    ROWS=$(wc -l < "$DIR/rows.ndjson")
    COLUMNS="(ts String, level String, service String, user String, message String) ENGINE = MergeTree ORDER BY ts"
    LOADER_SETTINGS="--input_format_skip_unknown_fields=1" SKIP=",skip-unknown-fields=true"
else
python3 - "$DIR/rows.ndjson" "$ROWS" <<'PY'
import json, random, sys
rng = random.Random(7)
levels, services = ["debug", "info", "warn", "error"], ["checkout", "auth", "search", "billing", "gateway"]
with open(sys.argv[1], "w") as f:
    for i in range(int(sys.argv[2])):
        f.write(json.dumps({"ts": 1700000000 + i // 100, "level": rng.choice(levels), "service": rng.choice(services),
                            "user": "u%06d" % rng.randrange(1000000), "latency_ms": rng.randrange(5000),
                            "msg": "request %d finished after retry %d" % (i, rng.randrange(4))}, separators=(",", ":")) + "\n")
PY
COLUMNS="(ts UInt32, level String, service String, user String, latency_ms UInt32, msg String) ENGINE = MergeTree ORDER BY ts"
fi
BYTES=$(stat -c %s "$DIR/rows.ndjson")
echo "rows=$ROWS bytes=$BYTES server=$(clickhouse-client --version 2>/dev/null | head -1) sluice=$SLUICE $*"
LOADER_TIMES=()
declare -A SLUICE_TIMES
for run in $(seq "$RUNS"); do
    cat "$DIR/rows.ndjson" >/dev/null  # warm the page cache
    $C --query "CREATE TABLE loader_$run $COLUMNS"
    cpu0=$(server_cpu)
    start=$(date +%s.%N)
    # clickhouse-client parses the JSON itself and sends the server native blocks: its own CPU
    # is part of the loader's.
    /usr/bin/time -f '%U %S' -o "$DIR/client.cpu" $C $LOADER_SETTINGS --query "INSERT INTO loader_$run FORMAT JSONEachRow" < "$DIR/rows.ndjson"
    loader=$(echo "$(date +%s.%N) - $start" | bc)
    client=$(awk '{ print $1 + $2 }' "$DIR/client.cpu")
    loader_cpu=$(echo "$(server_cpu) - $cpu0" | bc)
    loaded=$($C --query "SELECT count() FROM loader_$run")
    LOADER_TIMES+=("$loader")
    for connections in ${CONNECTIONS:-default}; do
        extra="" table="sluice_${run}_$connections"
        [ "$connections" = default ] || extra=",connections=$connections"
        $C --query "CREATE TABLE $table $COLUMNS"
        for _ in $(seq 600); do [ "$($C --query 'SELECT count() FROM system.merges')" = 0 ] && break; sleep 0.5; done
        cpu0=$(server_cpu)
        start=$(date +%s.%N)
        "$SLUICE" run --admin off --input "file:path=$DIR/rows.ndjson" \
            --output "clickhouse:url=http://127.0.0.1:$HTTP_PORT,table=$table$extra$SKIP" "$@" 2>"$DIR/sluice.err"
        took=$(echo "$(date +%s.%N) - $start" | bc)
        server=$(echo "$(server_cpu) - $cpu0" | bc)
        rows=$($C --query "SELECT count() FROM $table")
        [ "$rows" = "$ROWS" ] && [ "$loaded" = "$ROWS" ] || { echo "run $run: rows differ: sluice $rows, loader $loaded of $ROWS" >&2; exit 1; }
        rss=$(grep -o 'peak_rss_mb=[0-9.]*' "$DIR/sluice.err" || true)
        printf 'run %d: clickhouse-client %.0f rows/s %.1f MB/s (%.2f s, client CPU %.2f s + server CPU %.2f s) | sluice connections=%s %.0f rows/s %.1f MB/s (%.2f s, %s, %s inserts, CPU %.2f s + server CPU %.2f s) | ratio %.2f\n' \
            "$run" "$(echo "$ROWS / $loader" | bc -l)" "$(echo "$BYTES / $loader / 1000000" | bc -l)" "$loader" "$client" "$loader_cpu" "$connections" \
            "$(echo "$ROWS / $took" | bc -l)" "$(echo "$BYTES / $took / 1000000" | bc -l)" "$took" "$rss" \
            "$(grep -o 'output_batches=[0-9]*' "$DIR/sluice.err" | cut -d= -f2)" \
            "$(grep -o 'cpu_seconds=[0-9.]*' "$DIR/sluice.err" | cut -d= -f2)" "$server" "$(echo "$loader / $took" | bc -l)"
        SLUICE_TIMES[$connections]="${SLUICE_TIMES[$connections]:-} $took"
        # No DROP: ClickHouse 18's DROP waits behind the merges of the parts the inserts made (a
        # part per insert), which can take minutes; wait until merging is done instead, so the
        # next run does not share the CPUs with it.
        for _ in $(seq 600); do [ "$($C --query 'SELECT count() FROM system.merges')" = 0 ] && break; sleep 0.5; done
    done
done
median() { printf '%s\n' "$@" | sort -g | awk '{ a[NR] = $1 } END { print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }
loader=$(median "${LOADER_TIMES[@]}")
for connections in ${CONNECTIONS:-default}; do
    # shellcheck disable=SC2086
    took=$(median ${SLUICE_TIMES[$connections]})
    printf 'median of %d: clickhouse-client %.0f rows/s %.1f MB/s | sluice connections=%s %.0f rows/s %.1f MB/s | ratio %.2f\n' "$RUNS" \
        "$(echo "$ROWS / $loader" | bc -l)" "$(echo "$BYTES / $loader / 1000000" | bc -l)" "$connections" \
        "$(echo "$ROWS / $took" | bc -l)" "$(echo "$BYTES / $took / 1000000" | bc -l)" "$(echo "$loader / $took" | bc -l)"
done
