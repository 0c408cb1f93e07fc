#!/usr/bin/env bash
# Side by side: the same tcp-file load (CONNECTIONS connections × LINES lines of 256 B over
# loopback, newline-delimited) into rsyslog, syslog-ng and Sluice, each writing every line to a
# file, one after the other in one run on this machine. Each peer runs in the foreground with
# its own config on 127.0.0.1 (never as a system service). A run counts as done when the
# output file holds every line; msgs/s = lines / (time from the first connection to the last
# line on disk). Prints msgs/s per receiver and the ratios Sluice/peer.
#
#   perf/peers.sh [CONNECTIONS=8] [LINES_PER_CONNECTION=500000] [RUNS=3]
#
# rsyslog and syslog-ng conflict as Debian packages, so syslog-ng comes from apt and rsyslog is
# unpacked from its .deb into perf/out/peers/ (its libraries from apt).
set -euo pipefail
cd "$(dirname "$0")/.."
conns="${1:-8}"
lines="${2:-500000}"
runs="${3:-3}"
total=$((conns * lines))
out="$PWD/perf/out/peers"
mkdir -p "$out"
export DEBIAN_FRONTEND=noninteractive

need_apt() { dpkg -s "$1" >/dev/null 2>&1 || apt-get install -y -qq "$1" >/dev/null; }
need_apt syslog-ng-core
for lib in libestr0 libfastjson4 liblognorm5 libsystemd0 libgcrypt20 zlib1g libuuid1; do need_apt "$lib" || true; done
rsyslogd="$out/rsyslog/usr/sbin/rsyslogd"
if [ ! -x "$rsyslogd" ]; then
  (cd "$out" && rm -f rsyslog_*.deb && apt-get download rsyslog >/dev/null && dpkg -x rsyslog_*.deb rsyslog)
fi
rsyslog_modules="$(dirname "$(find "$out/rsyslog" -name imtcp.so | head -1)")"

gcc -O2 -pthread perf/loadgen.c -o "$out/loadgen"
swift build -c release >/dev/null
sluice=.build/release/sluice

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
  "$out/loadgen" "$port" "$conns" "$lines" > "$out/$name.load"
  local deadline=$(( $(date +%s) + 120 ))
  while [ "$(count_lines "$file")" -lt "$total" ] && [ "$(date +%s)" -lt "$deadline" ]; do sleep 0.02; done
  t1=$(date +%s.%N)
  local got
  got=$(count_lines "$file")
  kill -TERM "$pid" 2>/dev/null || true
  pkill -TERM -P "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  sleep 0.3
  got=$(count_lines "$file")
  if [ "$got" -ne "$total" ]; then echo "$name: $got of $total lines arrived (LOST $((total - got)))" >&2; echo 0; return; fi
  awk -v n="$total" -v a="$t0" -v b="$t1" 'BEGIN { printf "%.0f\n", n / (b - a) }'
}

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

declare -A best
for name in rsyslog syslog-ng sluice; do
  results=()
  for r in $(seq 1 "$runs"); do
    case "$name" in
      rsyslog) cmd="exec $rsyslogd -n -M $rsyslog_modules -f $out/rsyslog.conf -i $out/rsyslog.pid"; file="$out/rsyslog.out" ;;
      syslog-ng) cmd="exec syslog-ng -F -f $out/syslog-ng.conf -R $out/syslog-ng.persist -p $out/syslog-ng.pid -c $out/syslog-ng.ctl"; file="$out/syslog-ng.out" ;;
      sluice) cmd="exec $sluice run --input tcp:listen=127.0.0.1:$port --output file:path=$out/sluice.out"; file="$out/sluice.out" ;;
    esac
    results+=("$(run_one "$name" "$cmd" "$file")")
  done
  median=$(printf '%s\n' "${results[@]}" | sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }')
  best[$name]=$median
  echo "$name: runs ${results[*]} msgs/s, median $median msgs/s"
done
echo "load: $conns connections x $lines lines of 256 B = $total lines per run"
for peer in rsyslog syslog-ng; do
  if [ "${best[$peer]}" -gt 0 ]; then
    awk -v s="${best[sluice]}" -v p="${best[$peer]}" -v n="$peer" 'BEGIN { printf "sluice/%s = %.2f\n", n, s / p }'
  fi
done
