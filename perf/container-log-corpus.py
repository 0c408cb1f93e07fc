#!/usr/bin/env python3
"""Writes a container log file as a runtime does, with a fixed seed: CRI lines (containerd,
CRI-O: `TIME STREAM F|P LOG`) or Docker json-file lines (`{"log":"…\\n","stream":…,"time":…}`).
The messages are shaped like a service's logs: 60% plain text lines (level, component, words
with some non-ASCII, key=value pairs), 39% JSON lines (an app that logs JSON), 1% long JSON
lines of 1 to 40 KB (a dumped object), which the runtime splits into lines of at most 16 KiB
(P lines, or Docker logs without their newline); a fifth of the records go to stderr.

    python3 perf/container-log-corpus.py OUT.log [cri|docker] [MEGABYTES] [SEED]

For the k8s input's figures in perf/README.md; name OUT the kubelet's way
(`<pod>_<namespace>_<container>-<64 hex>.log`) for the metadata to be read from it."""
import json, random, sys

out = sys.argv[1]
fmt = sys.argv[2] if len(sys.argv) > 2 else "cri"
megabytes = int(sys.argv[3]) if len(sys.argv) > 3 else 200
seed = int(sys.argv[4]) if len(sys.argv) > 4 else 7
rng = random.Random(seed)
PIECE = 16384
WORDS = ["request", "user", "timeout", "GET", "POST", "/api/v1/orders", "payment", "ошибка", "запрос", "服务", "请求",
         "café", "Zürich", "ok", "failed", "retry", "db", "cache", "session", "token", "upstream", "latency"]
LEVELS = ["DEBUG", "INFO", "INFO", "INFO", "WARN", "ERROR"]
COMPONENTS = ["checkout", "auth", "search", "billing", "gateway", "inventory"]

def words(n):
    return " ".join(rng.choice(WORDS) for _ in range(n))

def message(k):
    r = rng.random()
    if r < 0.60:
        return (f"2024-05-01 10:{k // 60000 % 60:02d}:{k // 1000 % 60:02d}.{k % 1000:03d} {rng.choice(LEVELS)} "
                f"[{rng.choice(COMPONENTS)}] {words(rng.randint(4, 20))} user_id={rng.randint(1, 10**6)} "
                f"took={rng.randint(1, 900)}ms status={rng.choice([200, 200, 201, 404, 500])}")
    if r < 0.99:
        return json.dumps({"ts": f"2024-05-01T10:00:{k % 60:02d}.{k % 1000:03d}Z", "level": rng.choice(LEVELS).lower(),
                           "logger": rng.choice(COMPONENTS), "msg": words(rng.randint(3, 15)),
                           "user": {"id": rng.randint(1, 10**6), "region": rng.choice(["eu", "us", "ap"])},
                           "duration_ms": round(rng.uniform(0, 900), 2), "tags": [rng.choice(WORDS) for _ in range(rng.randint(0, 4))]},
                          ensure_ascii=False)
    items = rng.randint(10, 400)
    return json.dumps({"level": "debug", "msg": "dump", "items": [{"id": i, "sku": rng.choice(WORDS), "qty": rng.randint(1, 9),
                                                                    "note": words(rng.randint(2, 8))} for i in range(items)]},
                      ensure_ascii=False)

def escaped(text):
    return json.dumps(text, ensure_ascii=False)[1:-1]

written = 0
limit = megabytes * 1_000_000
k = 0
with open(out, "wb") as f:
    while written < limit:
        stream = "stderr" if rng.random() < 0.2 else "stdout"
        time = f"2024-05-01T10:{k // 60000 % 60:02d}:{k // 1000 % 60:02d}.{k % 1000:03d}{rng.randint(0, 999999):06d}Z"
        data = message(k).encode()
        pieces = [data[i:i + PIECE] for i in range(0, len(data), PIECE)] or [b""]
        for i, piece in enumerate(pieces):
            last = i == len(pieces) - 1
            if fmt == "cri":
                line = f"{time} {stream} {'F' if last else 'P'} ".encode() + piece + b"\n"
            else:
                text = piece.decode("utf-8", errors="replace") + ("\n" if last else "")
                line = f'{{"log":"{escaped(text)}","stream":"{stream}","time":"{time}"}}\n'.encode()
            f.write(line)
            written += len(line)
        k += 1
