#!/usr/bin/env python3
"""Sender for perf/tls.sh: CONNECTIONS processes each send MIB MiB of 256-byte lines to
127.0.0.1:PORT in 1 MiB writes, over TLS when CAFILE is given (checked against it, name
localhost), plain otherwise. Once all is sent, polls the node's /metrics on ADMIN_PORT until it
framed every line. Prints the start (every connection made) and the time the node had every
line (time.time(), seconds)."""
import multiprocessing
import re
import urllib.request
import socket
import ssl
import sys
import time


def send(port, mib, cafile, ready, go, done):
    line = (b'{"msg":"' + b"x" * 245 + b'"}\n')
    assert len(line) == 256
    block = line * 4096
    raw = socket.create_connection(("127.0.0.1", port))
    stream = ssl.create_default_context(cafile=cafile).wrap_socket(raw, server_hostname="localhost") if cafile else raw
    ready.release()
    go.wait()
    for _ in range(mib):
        stream.sendall(block)
    if cafile:
        stream.unwrap()
    stream.close()
    done.put(True)


def main():
    port, connections, mib, admin = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
    cafile = sys.argv[5] if len(sys.argv) > 5 and sys.argv[5] else None
    ready, go, done = multiprocessing.Semaphore(0), multiprocessing.Event(), multiprocessing.Queue()
    workers = [multiprocessing.Process(target=send, args=(port, mib, cafile, ready, go, done)) for _ in range(connections)]
    for w in workers:
        w.start()
    for _ in workers:
        ready.acquire()  # every connection made (and its handshake done) before the clock starts
    start = time.time()
    go.set()
    for _ in workers:
        done.get()
    for w in workers:
        w.join()
    expected = connections * mib * 4096
    while True:
        metrics = urllib.request.urlopen(f"http://127.0.0.1:{admin}/metrics").read().decode()
        framed = sum(int(float(v)) for v in re.findall(r'^sluice_events_in_total\{[^}]*\} (\S+)', metrics, re.M))
        if framed >= expected:
            break
        time.sleep(0.002)
    print(f"{start} {time.time()}")


if __name__ == "__main__":
    main()
