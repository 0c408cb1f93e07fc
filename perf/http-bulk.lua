-- wrk script for perf/http-wrk.sh: every request POSTs the same body of N events,
-- as an Elasticsearch bulk request (an action line before each document, to /_bulk) or as
-- NDJSON (to /logs). Arguments after `--`: N (default 1000), bulk|ndjson (default bulk).
-- done() prints one line the shell script reads: requests, seconds, non-2xx answers, socket
-- errors, the body's bytes, and latency percentiles in microseconds.

local function body(n, mode)
    local parts = {}
    for i = 1, n do
        if mode == "bulk" then parts[#parts + 1] = '{"index":{"_index":"logs-wrk"}}\n' end
        parts[#parts + 1] = string.format(
            '{"@timestamp":"2026-12-05T12:%02d:%02d.%03dZ","level":"info","service":"checkout","host":"node-%d",' ..
            '"msg":"request served","status":200,"bytes":%d,"duration_ms":%d.%d,"n":%d}\n',
            math.floor(i / 60) % 60, i % 60, i % 1000, i % 16, 512 + i % 4096, i % 250, i % 10, i)
    end
    return table.concat(parts)
end

local function settings(args)
    local n = tonumber(args[1] or "1000") or 1000
    local mode = args[2] or "bulk"
    return n, mode
end

local req

function init(args)
    local n, mode = settings(args)
    local path = mode == "bulk" and "/_bulk" or "/logs"
    req = wrk.format("POST", path, { ["Content-Type"] = "application/x-ndjson" }, body(n, mode))
end

function request()
    return req
end

-- done() runs in a Lua state of its own: the arguments are read again from the environment
-- the shell script sets.
function done(summary, latency, requests)
    local n = tonumber(os.getenv("WRK_EVENTS") or "1000")
    local mode = os.getenv("WRK_MODE") or "bulk"
    local e = summary.errors
    io.write(string.format("WRK requests=%d seconds=%.3f non2xx=%d socket_errors=%d body_bytes=%d p50_us=%d p99_us=%d\n",
        summary.requests, summary.duration / 1e6, e.status, e.connect + e.read + e.write + e.timeout, #body(n, mode),
        latency:percentile(50), latency:percentile(99)))
end
