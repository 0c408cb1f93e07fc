#!/usr/bin/env bash
# file → PostgreSQL: Sluice's postgres output beside PostgreSQL's own bulk loader
# (`psql -c '\copy …'` of the same rows, already in COPY text format) in the same run, against
# one Debian PostgreSQL 15 cluster made here with initdb in a temporary directory and started
# with pg_ctl on 127.0.0.1 (never as a service), with the server's default (durable) settings.
#
#     perf/postgres.sh [small|realistic] [SIZE] [RUNS] [sluice run flags…]
#
# small: SIZE rows (default 1,000,000) of `{"n":…,"check":…,"pad":…}` (74 B) into
#   (n bigint, check text, pad text);
# realistic: SIZE MB (default 100) of perf/realistic-corpus.py (100 B–12 KB lines, escapes,
#   non-ASCII, nesting) into (ts timestamptz, level, service, "user", message text, doc jsonb),
#   the whole line into doc.
# SLUICE=path runs a given binary (default: the release build in .build-bench). Each run loads
# a fresh table with psql, then another with sluice; the ratio is sluice's rows/s over psql's.
# CONNECTIONS="1 2" runs sluice once per value (the output's connections=N) after the same
# psql load, so the ratios compare in one run.
set -euo pipefail
cd "$(dirname "$0")/.."
MODE=${1:-small}
RUNS=${3:-3}
SLUICE=${SLUICE:-.build-bench/release/sluice}
BIN=/usr/lib/postgresql/15/bin
DIR=$(mktemp -d /tmp/sluice-pg-perf.XXXXXX)
chmod 755 "$DIR"
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
# The server refuses to run as root: then the cluster belongs to Debian's postgres user.
AS=()
if [ "$(id -u)" = 0 ]; then AS=(setpriv --reuid=postgres --regid=postgres --init-groups); fi
mkdir "$DIR/data" "$DIR/sockets"
[ ${#AS[@]} -gt 0 ] && chown postgres:postgres "$DIR/data" "$DIR/sockets"
(cd / && "${AS[@]}" "$BIN/initdb" -D "$DIR/data" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >/dev/null)
(cd / && "${AS[@]}" "$BIN/pg_ctl" -D "$DIR/data" -l "$DIR/data/server.log" -w \
    -o "-c listen_addresses=127.0.0.1 -c port=$PORT -c unix_socket_directories=$DIR/sockets" start >/dev/null)
trap '(cd / && "${AS[@]}" "$BIN/pg_ctl" -D "$DIR/data" -m immediate -w stop >/dev/null 2>&1); rm -rf "$DIR"' EXIT
DSN="postgresql://postgres@127.0.0.1:$PORT/postgres"
P=(psql -X -q -v ON_ERROR_STOP=1 "$DSN")
# CPU seconds the server has used so far: the postmaster, the backends it reaped (cutime,
# cstime) and its live processes (checkpointer, WAL writer, …). Read after a load's connections
# closed, so the difference of two readings is what the server spent on that load.
server_cpu() {
    sleep 0.2  # the exited backends are reaped
    python3 - "$(head -1 "$DIR/data/postmaster.pid")" <<'PY'
import os, sys
tick = os.sysconf("SC_CLK_TCK")
def fields(pid): return open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
master = sys.argv[1]
f = fields(master)
total = sum(int(x) for x in f[11:15])  # utime stime cutime cstime
for pid in os.listdir("/proc"):
    if pid.isdigit() and pid != master:
        try: g = fields(pid)
        except OSError: continue
        if g[1] == master: total += int(g[11]) + int(g[12])
print("%.2f" % (total / tick))
PY
}

if [ "$MODE" = small ]; then
    SIZE=${2:-1000000}
    python3 - "$DIR/rows.ndjson" "$DIR/rows.tsv" "$SIZE" <<'PY'
import sys
with open(sys.argv[1], "w") as j, open(sys.argv[2], "w") as t:
    for n in range(int(sys.argv[3])):
        check = "%016x" % (n * 0x9E3779B97F4A7C15 % (1 << 64))
        j.write('{"n":%d,"check":"%s","pad":"abcdefghijklmnopqrstuvwxyz"}\n' % (n, check))
        t.write("%d\t%s\tabcdefghijklmnopqrstuvwxyz\n" % (n, check))
PY
    TABLE='(n bigint, "check" text, pad text)'
    COLUMNS='columns=n:n,columns=check:check,columns=pad:pad'
else
    SIZE=${2:-100}
    python3 perf/realistic-corpus.py "$DIR/rows.ndjson" "$SIZE" 7
    python3 - "$DIR/rows.ndjson" "$DIR/rows.tsv" <<'PY'
import json, sys
def copy(s): return s.replace("\\", "\\\\").replace("\n", "\\n").replace("\r", "\\r").replace("\t", "\\t")
with open(sys.argv[1], encoding="utf-8") as j, open(sys.argv[2], "w", encoding="utf-8") as t:
    for line in j:
        line = line.rstrip("\n")
        d = json.loads(line)
        t.write("\t".join(copy(d[k]) for k in ("ts", "level", "service", "user", "message")) + "\t" + copy(line) + "\n")
PY
    TABLE='(ts timestamptz, level text, service text, "user" text, message text, doc jsonb)'
    COLUMNS='columns=ts:ts,columns=level:level,columns=service:service,columns=user:user,columns=message:message,json-column=doc'
fi
shift $(( $# > 3 ? 3 : $# ))
ROWS=$(wc -l < "$DIR/rows.ndjson")
echo "mode=$MODE rows=$ROWS bytes=$(stat -c %s "$DIR/rows.ndjson") server=$("$BIN/postgres" --version) sluice=$SLUICE $*"
for run in $(seq "$RUNS"); do
    cat "$DIR/rows.ndjson" "$DIR/rows.tsv" >/dev/null  # warm the page cache
    "${P[@]}" -c "CREATE TABLE loader_$run $TABLE" -c CHECKPOINT
    cpu0=$(server_cpu)
    start=$(date +%s.%N)
    "${P[@]}" -c "\\copy loader_$run FROM '$DIR/rows.tsv'"
    loader=$(echo "$(date +%s.%N) - $start" | bc)
    loader_cpu=$(echo "$(server_cpu) - $cpu0" | bc)
    loaded=$("${P[@]}" -At -c "SELECT count(*) FROM loader_$run")
    for connections in ${CONNECTIONS:-default}; do
        extra=""
        [ "$connections" = default ] || extra=",connections=$connections"
        "${P[@]}" -c "CREATE TABLE sluice_$run $TABLE" -c CHECKPOINT
        cpu0=$(server_cpu)
        start=$(date +%s.%N)
        "$SLUICE" run --admin off --input "file:path=$DIR/rows.ndjson" \
            --output "postgres:dsn=$DSN,table=sluice_$run,$COLUMNS$extra" "$@" 2>"$DIR/sluice.err"
        took=$(echo "$(date +%s.%N) - $start" | bc)
        server=$(echo "$(server_cpu) - $cpu0" | bc)
        rows=$("${P[@]}" -At -c "SELECT count(*) FROM sluice_$run")
        rss=$(grep -o 'peak_rss_mb=[0-9.]*' "$DIR/sluice.err" || true)
        batches=$(grep -o 'output_batches=[0-9]*' "$DIR/sluice.err" | cut -d= -f2)
        cpu=$(grep -o 'cpu_seconds=[0-9.]*' "$DIR/sluice.err" | cut -d= -f2)
        printf 'run %d: psql \\copy %.0f rows/s (%s rows, %.2f s, server CPU %.2f s) | sluice connections=%s %.0f rows/s (%s rows, %.2f s, %s, %s transactions, CPU %.2f s + server CPU %.2f s) | ratio %.2f\n' \
            "$run" "$(echo "$ROWS / $loader" | bc -l)" "$loaded" "$loader" "$loader_cpu" "$connections" "$(echo "$ROWS / $took" | bc -l)" "$rows" "$took" "$rss" \
            "$batches" "$cpu" "$server" "$(echo "$loader / $took" | bc -l)"
        "${P[@]}" -c "DROP TABLE sluice_$run"
    done
    "${P[@]}" -c "DROP TABLE loader_$run"
done
