#!/usr/bin/env python3
"""Writes NDJSON shaped like production logs, with a fixed seed: lines of 100 B to 12 KB
(mean about 3 KB), objects and arrays nested up to 5 deep, strings with escapes (\\n, \\t, \\",
\\\\) and non-ASCII UTF-8 (Cyrillic, CJK, emoji), 5 to 140 top-level fields.

    python3 perf/realistic-corpus.py OUT.ndjson [MEGABYTES] [SEED]

Used by perf/ scripts and the README's realistic-data figures; a different SEED gives a corpus
of the same shape with other content."""
import json, random, sys

out, megabytes, seed = sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 500, int(sys.argv[3]) if len(sys.argv) > 3 else 7
rng = random.Random(seed)
WORDS = ["request", "user", "timeout", "GET", "POST", "/api/v1/orders", "payment", "ошибка", "пользователь", "запрос",
         "服务", "请求", "超时", "ユーザー", "😀", "🚀", "café", "naïve", "Zürich", "ok", "failed", "retry", "db", "cache"]
LEVELS = ["debug", "info", "warn", "error"]
SERVICES = ["checkout", "auth", "search", "billing", "gateway", "inventory"]

def text(n):
    parts = []
    for _ in range(n):
        w = rng.choice(WORDS)
        r = rng.random()
        if r < 0.05: w += "\n"
        elif r < 0.08: w += "\t"
        elif r < 0.11: w = '"' + w + '"'
        elif r < 0.13: w += "\\"
        parts.append(w)
    return " ".join(parts)

def value(depth):
    r = rng.random()
    if depth < 5 and r < 0.12:
        return {f"k{i}_{rng.choice(WORDS[:6])}": value(depth + 1) for i in range(rng.randint(1, 6))}
    if depth < 5 and r < 0.2:
        return [value(depth + 1) for _ in range(rng.randint(0, 5))]
    if r < 0.35: return rng.randint(-10**6, 10**9)
    if r < 0.42: return round(rng.uniform(-1e4, 1e4), 3)
    if r < 0.47: return rng.choice([True, False, None])
    return text(rng.randint(1, 12))

def line():
    target = min(12000, max(100, int(rng.lognormvariate(7.7, 0.8))))
    doc = {"ts": f"2026-12-04T10:{rng.randint(0,59):02d}:{rng.randint(0,59):02d}.{rng.randint(0,999999):06d}Z",
           "level": rng.choice(LEVELS), "service": rng.choice(SERVICES),
           "user": f"u{rng.randint(0, 99999)}", "message": text(rng.randint(3, 30))}
    fields = rng.randint(5, max(5, min(140, target // 60)))
    i = 0
    while len(doc) < fields:
        doc[f"f{i}_{rng.choice(WORDS[:8])}"] = value(1)
        i += 1
    s = json.dumps(doc, ensure_ascii=False, separators=(",", ":"))
    while len(s.encode()) < target:
        doc[f"extra{i}"] = text(rng.randint(10, 60))
        i += 1
        s = json.dumps(doc, ensure_ascii=False, separators=(",", ":"))
    return s

limit = megabytes * 1_000_000
written = 0
with open(out, "w", encoding="utf-8") as f:
    while written < limit:
        s = line()
        if len(s.encode()) > 12000:  # too long (a cut document would not be valid JSON): make another
            continue
        f.write(s + "\n")
        written += len(s.encode()) + 1
