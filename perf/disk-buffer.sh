#!/usr/bin/env bash
# Issue 15 at full scale (not in CI): RATE lines/s arrive for SECONDS while the output's receiver
# is down, into `buffer=disk`: FILE_RATE of them (default a fifth) appended to a followed file,
# the rest over TCP; then the receiver comes up and the buffer drains.
# Prints, every 5 s, the backpressure time, the buffer's bytes and the node's RSS; then the
# lines written to the buffer, the drain's rate and whether every line arrived (and how many
# twice), in order per sender connection.
#
#     [FILE_RATE=N] perf/disk-buffer.sh [RATE=200000] [SECONDS=60] [SYNC=batch] [extra sluice run flags...]
#
# SLUICE=path runs a given binary (default: the release build in .build-bench). Lines are
# 100 B, numbered; 8 connections share the TCP rate, paced in 10 ms steps (python3), and one
# writer appends the file's lines, paced the same way. The buffer
# lives in a temporary directory under TMPDIR (default /tmp): RATE × SECONDS × ~125 B of disk.
set -euo pipefail
cd "$(dirname "$0")/.."
RATE=${1:-200000}
SECONDS_=${2:-60}
SYNC=${3:-batch}
FILE_RATE=${FILE_RATE:-$((RATE / 5))}
TCP_RATE=$((RATE - FILE_RATE))
shift 3 2>/dev/null || shift $#
SLUICE=${SLUICE:-.build-bench/release/sluice}
DIR=$(mktemp -d "${TMPDIR:-/tmp}/sluice-disk-buffer.XXXXXX")
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
IN=$(free_port); OUT=$(free_port); ADMIN=$(free_port)
: > "$DIR/grown.log"
"$SLUICE" run --admin "127.0.0.1:$ADMIN" "$@" --input "tcp:listen=127.0.0.1:$IN" \
    --input "file:path=$DIR/grown.log,follow=true,offsets=$DIR/offsets" \
    --output "tcp:address=127.0.0.1:$OUT,reconnect-max=200ms,buffer=disk,buffer-dir=$DIR/buffer,buffer-max-size=64GiB,buffer-sync=$SYNC" \
    2> "$DIR/sluice.log" &
NODE=$!
trap 'kill -9 $NODE 2>/dev/null || true; rm -rf "$DIR"' EXIT
metric() {  # metric NAME: the sum of its samples
    curl -s "http://127.0.0.1:$ADMIN/metrics" | awk -v n="$1" '$1 == n || index($1, n "{") == 1 { s += $2 } END { printf "%.0f", s }'
}
for _ in $(seq 1 200); do curl -sf "http://127.0.0.1:$ADMIN/ready" >/dev/null && break; sleep 0.05; done
TOTAL=$((RATE * SECONDS_))
echo "$RATE lines/s for $SECONDS_ s ($TOTAL lines of 100 B): $TCP_RATE/s over 8 tcp connections, $FILE_RATE/s appended to a followed file; output down, buffer-sync=$SYNC, $(nproc) CPUs, load $(cut -d' ' -f1 /proc/loadavg)"

# Numbers 0..TCP_TOTAL-1 go over tcp (connection c sends c, c + 8, ...), the rest to the file.
python3 - "$IN" "$TCP_RATE" "$FILE_RATE" "$SECONDS_" "$DIR/grown.log" > "$DIR/sender.txt" <<'PY' &
import socket, sys, threading, time
port, tcp_rate, file_rate, seconds, path = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
connections, step = 8, 0.01
tcp_total = tcp_rate * seconds
def line(n): return b"%-99d\n" % n
def paced(numbers, rate, write):
    per_step = max(1, rate * step)
    due, start, i = 0.0, time.monotonic(), 0
    while i < len(numbers):
        due += per_step
        k = int(due) - int(due - per_step)
        write(b"".join(line(x) for x in numbers[i:i + k]))
        i += k
        wait = start + (i / (per_step / step)) - time.monotonic()
        if wait > 0: time.sleep(wait)
def send(c):
    s = socket.create_connection(("127.0.0.1", port))
    paced(range(c, tcp_total, connections), tcp_rate / connections, s.sendall)
    s.close()
def append():
    with open(path, "ab", buffering=0) as f:
        paced(range(tcp_total, tcp_total + file_rate * seconds), file_rate, f.write)
start = time.monotonic()
threads = [threading.Thread(target=send, args=(c,)) for c in range(connections)]
if file_rate > 0: threads.append(threading.Thread(target=append))
for t in threads: t.start()
for t in threads: t.join()
print("%d %.3f" % ((tcp_rate + file_rate) * seconds, time.monotonic() - start))
PY
SENDER=$!
t=0
while kill -0 $SENDER 2>/dev/null; do
    sleep 5; t=$((t + 5))
    echo "$t s: backpressure $(metric sluice_backpressure_seconds_total) s, buffer $(( $(metric sluice_buffer_bytes) / 1048576 )) MiB, written $(metric sluice_buffer_records_written_total), RSS $(awk '/VmRSS/ { printf "%.1f MB", $2 / 1024 }' /proc/$NODE/status)"
done
wait $SENDER
read -r SENT SENT_SECONDS < "$DIR/sender.txt"
echo "sent $SENT lines in $SENT_SECONDS s ($(python3 -c "print('%.0f' % ($SENT / $SENT_SECONDS))") lines/s)"
for _ in $(seq 1 600); do [ "$(metric sluice_buffer_records_written_total)" -ge "$SENT" ] && break; sleep 0.1; done
echo "in the buffer: $(metric sluice_buffer_records_written_total) records, $(( $(metric sluice_buffer_bytes) / 1048576 )) MiB; backpressure $(metric sluice_backpressure_seconds_total) s; peak RSS $(awk '/VmHWM/ { printf "%.1f MB", $2 / 1024 }' /proc/$NODE/status)"

# The receiver comes up: every number must arrive.
python3 - "$OUT" "$SENT" "$((TCP_RATE * SECONDS_))" <<'PY'
import socket, sys, time
port, total, tcp_total = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
seen = bytearray(total)
server = socket.socket(); server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
server.bind(("127.0.0.1", port)); server.listen(16); server.settimeout(0.2)
import selectors
sel = selectors.DefaultSelector(); sel.register(server, selectors.EVENT_READ)
rest, got, dup, start, last = {}, 0, 0, time.monotonic(), time.monotonic()
# Sender connection c sent c, c + 8, c + 16, ... in order, and the file holds the rest in order
# (stream 8): each number's first arrival must come after every earlier number of its stream's.
newest, disorder = [-1] * 9, 0
def stream(n): return n % 8 if n < tcp_total else 8
while got < total and time.monotonic() - last < 30:
    for key, _ in sel.select(0.2):
        if key.fileobj is server:
            c, _ = server.accept(); sel.register(c, selectors.EVENT_READ); rest[c] = b""
            continue
        data = key.fileobj.recv(1 << 20)
        if not data: sel.unregister(key.fileobj); continue
        data = rest[key.fileobj] + data
        lines = data.split(b"\n"); rest[key.fileobj] = lines.pop()
        for l in lines:
            n = int(l)
            if seen[n]: dup += 1
            else:
                seen[n] = 1; got += 1
                if n < newest[stream(n)]: disorder += 1
                else: newest[stream(n)] = n
        last = time.monotonic()
seconds = time.monotonic() - start
print("drained %d of %d lines in %.1f s (%.0f lines/s), %d duplicate(s), %d missing, %d out of order within their stream" % (got, total, seconds, got / seconds, dup, total - got, disorder))
sys.exit(0 if got == total and disorder == 0 else 1)
PY
kill -TERM $NODE; wait $NODE || true
tail -1 "$DIR/sluice.log"
