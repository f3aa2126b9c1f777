-- wrk script for bench/webhook_intake.py: replays pre-signed HTTP requests from a file.
-- Thread t sends records t, t+n, t+2n, … in order (cycling). Every 200 response names the
-- delivery it acknowledged; each thread writes those ids to accepted-<t>.txt beside the
-- request file. Prints per-thread counts and latency percentiles when done.
local threads = {}
local counter = 0
local nthreads = tonumber(os.getenv("KIZUNA_THREADS"))

function setup(thread)
  thread:set("tid", counter)
  counter = counter + 1
  table.insert(threads, thread)
end

function init(args)
  local file = assert(io.open(os.getenv("KIZUNA_REQUESTS"), "rb"))
  local data = file:read("*a")
  file:close()
  reqs = {}
  local pos, index = 1, 0
  while pos <= #data do
    local newline = string.find(data, "\n", pos, true)
    local length = tonumber(string.sub(data, pos, newline - 1))
    if index % nthreads == tid then
      table.insert(reqs, string.sub(data, newline + 1, newline + length))
    end
    index = index + 1
    pos = newline + 1 + length
  end
  position, sent, ok, bad = 0, 0, 0, 0
  accepted = assert(io.open(os.getenv("KIZUNA_REQUESTS") .. ".accepted-" .. tid, "w"))
end

function request()
  position = position % #reqs + 1
  sent = sent + 1
  return reqs[position]
end

function response(status, headers, body)
  if status == 200 then
    ok = ok + 1
    local id = string.match(body or "", '"webhook_id":"([^"]+)"')
    if id then accepted:write(id, "\n") end
    if ok % 256 == 0 then accepted:flush() end
  else
    bad = bad + 1
  end
end

function done(summary, latency, requests)
  for _, thread in ipairs(threads) do
    io.write(string.format("THREAD %d %d %d %d\n", thread:get("tid"), thread:get("sent"),
      thread:get("ok"), thread:get("bad")))
  end
  io.write(string.format("LATENCY p50_us=%d p99_us=%d\n", latency:percentile(50),
    latency:percentile(99)))
  io.write(string.format("TOTAL requests=%d duration_us=%d\n", summary.requests,
    summary.duration))
end
