#!/usr/bin/env bash
# Side by side: the same tcp-file load (CONNECTIONS connections × LINES lines of 256 B over
# loopback, newline-delimited) into rsyslog, syslog-ng and Sluice, each writing every line to a
# file, in rounds that take the three in turn on this machine. MODE=syslog sends 256 B RFC 5424
# messages with structured data, octet-counted, and each receiver parses them and writes the
# parsed fields as one JSON object per line (rsyslog: imtcp + pmrfc5424 and a jsonf template,
# the structured data as its text; syslog-ng: syslog() source and format-json with the SDATA
# pairs; Sluice: the syslog input, structured data as an object of objects). Each peer runs in the foreground with
# its own config on 127.0.0.1 (never as a system service). A run counts as done when the
# output file holds every line; msgs/s = lines / (time from the first connection to the last
# line on disk). Prints msgs/s per receiver and the ratios Sluice/peer.
#
#   perf/peers.sh [CONNECTIONS=8] [LINES_PER_CONNECTION=500000] [RUNS=3] [MODE=tcp|syslog]
#
# rsyslog and syslog-ng conflict as Debian packages: the installed one is used, the other is
# unpacked from its .deb (rsyslog into perf/out/peers/, syslog-ng under /opt/syslog-ng as
# `make test-deps` does), its libraries from apt.
set -euo pipefail
cd "$(dirname "$0")/.."
conns="${1:-8}"
lines="${2:-500000}"
runs="${3:-3}"
mode="${4:-tcp}"
case "$mode" in tcp|syslog) ;; *) echo "MODE is tcp or syslog, not $mode" >&2; exit 2 ;; esac
total=$((conns * lines))
out="$PWD/perf/out/peers"
mkdir -p "$out"
export DEBIAN_FRONTEND=noninteractive

need_apt() { dpkg -s "$1" >/dev/null 2>&1 || apt-get install -y -qq "$1" >/dev/null; }
for lib in libivykis0 libnet1 libjson-c5 libwrap0 libpcre3 libglib2.0-0 libcap2; do need_apt "$lib" || true; done
syslog_ng=/usr/sbin/syslog-ng syslog_ng_args=""
if [ ! -x "$syslog_ng" ]; then
  if [ ! -x /opt/syslog-ng/usr/sbin/syslog-ng ]; then
    (cd /tmp && apt-get download -qq syslog-ng-core && dpkg-deb -x syslog-ng-core_*.deb /opt/syslog-ng && rm -f syslog-ng-core_*.deb)
  fi
  syslog_ng="env LD_LIBRARY_PATH=/opt/syslog-ng/usr/lib/syslog-ng /opt/syslog-ng/usr/sbin/syslog-ng"
  syslog_ng_args="--module-path=/opt/syslog-ng/usr/lib/syslog-ng/3.38 --no-caps"
fi
for lib in libestr0 libfastjson4 liblognorm5 libsystemd0 libgcrypt20 zlib1g libuuid1; do need_apt "$lib" || true; done
if [ -x /usr/sbin/rsyslogd ]; then
  rsyslogd=/usr/sbin/rsyslogd
  rsyslog_modules="$(dirname "$(find /usr/lib -name imtcp.so -path '*rsyslog*' | head -1)")"
else
  rsyslogd="$out/rsyslog/usr/sbin/rsyslogd"
  if [ ! -x "$rsyslogd" ]; then
    (cd "$out" && rm -f rsyslog_*.deb && apt-get download rsyslog >/dev/null && dpkg -x rsyslog_*.deb rsyslog)
  fi
  rsyslog_modules="$(dirname "$(find "$out/rsyslog" -name imtcp.so | head -1)")"
fi

gcc -O2 -pthread perf/loadgen.c -o "$out/loadgen"
gcc -O2 perf/waitlines.c -o "$out/waitlines"
# SLUICE=path/to/sluice measures that binary instead of building .build/release/sluice.
if [ -z "${SLUICE:-}" ]; then swift build -c release >/dev/null; fi
sluice="${SLUICE:-.build/release/sluice}"

port=15514
wait_port() { for _ in $(seq 1 200); do (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null && return 0; sleep 0.05; done; echo "nothing listens on $port"; return 1; }
count_lines() { [ -f "$1" ] && wc -l < "$1" || echo 0; }

# run NAME START_COMMAND OUTPUT_FILE -> prints msgs/s
run_one() {
  local name="$1" start="$2" file="$3"
  rm -f "$file"
  bash -c "$start" > "$out/$name.log" 2>&1 &
  local pid=$!
  wait_port
  # the probe connection above carried no data
  local t0 t1
  t0=$(date +%s.%N)
  # The waiter follows the output file from the start, so the last line is seen within 2 ms of
  # reaching the file, at the cost of reading each byte of it once.
  "$out/waitlines" "$file" "$total" 120 > "$out/$name.seen" &
  local waiter=$!
  "$out/loadgen" "$port" "$conns" "$lines" $([ "$mode" = syslog ] && echo syslog) > "$out/$name.load"
  wait "$waiter" || true
  local got
  t1=$(cut -d' ' -f2 "$out/$name.seen")
  kill -TERM "$pid" 2>/dev/null || true
  pkill -TERM -P "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  sleep 0.3
  got=$(count_lines "$file")
  if [ "$got" -ne "$total" ]; then echo "$name: $got of $total lines arrived (LOST $((total - got)))" >&2; echo 0; return; fi
  awk -v n="$total" -v a="$t0" -v b="$t1" 'BEGIN { printf "%.0f\n", n / (b - a) }'
}

if [ "$mode" = tcp ]; then
cat > "$out/rsyslog.conf" <<CONF
global(workDirectory="$out")
module(load="imtcp" MaxSessions="1000")
input(type="imtcp" address="127.0.0.1" port="$port" SupportOctetCountedFraming="off")
template(name="raw" type="string" string="%rawmsg%\n")
main_queue(queue.type="LinkedList" queue.size="200000" queue.dequeueBatchSize="1024")
*.* action(type="omfile" file="$out/rsyslog.out" template="raw" asyncWriting="on" ioBufferSize="1m" flushOnTXEnd="off")
CONF
cat > "$out/syslog-ng.conf" <<CONF
@version: 3.38
options { threaded(yes); log-fifo-size(200000); };
source s { network(ip(127.0.0.1) port($port) transport(tcp) flags(no-parse) max-connections(1000) log-iw-size(200000)); };
destination d { file("$out/syslog-ng.out" template("\${MSG}\n") flush-lines(1000)); };
log { source(s); destination(d); };
CONF
sluice_input="tcp:listen=127.0.0.1:$port"
else
cat > "$out/rsyslog.conf" <<CONF
global(workDirectory="$out")
module(load="imtcp" MaxSessions="1000")
input(type="imtcp" address="127.0.0.1" port="$port" SupportOctetCountedFraming="on")
template(name="json" type="list" option.jsonf="on") {
  property(outname="timestamp" name="timereported" dateFormat="rfc3339" format="jsonf")
  property(outname="hostname" name="hostname" format="jsonf")
  property(outname="app_name" name="app-name" format="jsonf")
  property(outname="procid" name="procid" format="jsonf")
  property(outname="msgid" name="msgid" format="jsonf")
  property(outname="facility" name="syslogfacility-text" format="jsonf")
  property(outname="severity" name="syslogseverity-text" format="jsonf")
  property(outname="structured_data" name="structured-data" format="jsonf")
  property(outname="message" name="msg" format="jsonf")
}
main_queue(queue.type="LinkedList" queue.size="200000" queue.dequeueBatchSize="1024")
*.* action(type="omfile" file="$out/rsyslog.out" template="json" asyncWriting="on" ioBufferSize="1m" flushOnTXEnd="off")
CONF
cat > "$out/syslog-ng.conf" <<CONF
@version: 3.38
options { threaded(yes); log-fifo-size(200000); keep-hostname(yes); frac-digits(6); };
source s { syslog(ip(127.0.0.1) port($port) transport(tcp) max-connections(1000) log-iw-size(200000)); };
destination d { file("$out/syslog-ng.out" template("\$(format-json timestamp=\${ISODATE} hostname=\${HOST} app_name=\${PROGRAM} procid=\${PID} msgid=\${MSGID} facility=\${FACILITY} severity=\${LEVEL} message=\${MSG} --key .SDATA.*)\n") flush-lines(1000)); };
log { source(s); destination(d); };
CONF
sluice_input="syslog:listen=127.0.0.1:$port,transport=tcp"
fi

# Rounds interleave the receivers, each round starting one further along, so a quiet or busy
# minute of the shared machine falls on all three alike.
names=(rsyslog syslog-ng sluice)
declare -A results best
for r in $(seq 1 "$runs"); do
  for k in 0 1 2; do
    name=${names[$(( (r - 1 + k) % 3 ))]}
    case "$name" in
      rsyslog) cmd="exec $rsyslogd -n -M $rsyslog_modules -f $out/rsyslog.conf -i $out/rsyslog.pid"; file="$out/rsyslog.out" ;;
      syslog-ng) cmd="exec $syslog_ng $syslog_ng_args -F -f $out/syslog-ng.conf -R $out/syslog-ng.persist -p $out/syslog-ng.pid -c $out/syslog-ng.ctl"; file="$out/syslog-ng.out" ;;
      sluice) cmd="exec $sluice run --input $sluice_input --output file:path=$out/sluice.out"; file="$out/sluice.out" ;;
    esac
    results[$name]="${results[$name]:-} $(run_one "$name" "$cmd" "$file")"
    rm -f "$file"
  done
done
for name in "${names[@]}"; do
  median=$(printf '%s\n' ${results[$name]} | sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }')
  best[$name]=$median
  echo "$name: runs${results[$name]} msgs/s, median $median msgs/s"
done
echo "load ($mode): $conns connections x $lines records of 256 B = $total records per run"
for peer in rsyslog syslog-ng; do
  if [ "${best[$peer]}" -gt 0 ]; then
    awk -v s="${best[sluice]}" -v p="${best[$peer]}" -v n="$peer" 'BEGIN { printf "sluice/%s = %.2f\n", n, s / p }'
  fi
done
