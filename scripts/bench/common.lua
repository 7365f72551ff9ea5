-- Shared by the wrk scenario scripts of scripts/bench.sh (loaded with dofile).
--
-- Environment (set by bench.sh for each run):
--   BENCH_TOKEN    bearer token; empty for the ceiling
--   BENCH_THREADS  the -t given to wrk, so that each thread takes its own share of ids
--   BENCH_OUT      file that done() writes the run's figures to, as one JSON object
--
-- Every script keeps one table `statuses` per thread when it defines response(); done()
-- adds them up. Without response() wrk only counts answers >= 400 (summary.errors.status).

-- BENCH_RATE (optional): requests per second for the whole run, paced. Each thread sends on
-- its own evenly spaced schedule (offset from the other threads'), a connection waiting in
-- delay() for the next free slot; a connection only picks a slot once its previous answer
-- came back, so if the server falls behind, the rate drops instead of queueing up.
local rate = tonumber(os.getenv("BENCH_RATE") or "")
if rate and rate > 0 then
   local ffi = require("ffi")
   ffi.cdef [[
      typedef struct { long tv_sec; long tv_nsec; } bench_timespec;
      int clock_gettime(int clock, bench_timespec *out);
   ]]
   local ts = ffi.new("bench_timespec")
   local function now_ms()
      ffi.C.clock_gettime(1, ts) -- CLOCK_MONOTONIC
      return tonumber(ts.tv_sec) * 1000 + tonumber(ts.tv_nsec) / 1e6
   end
   local interval, next_slot
   function delay()
      local now = now_ms()
      if not next_slot then
         local n = tonumber(os.getenv("BENCH_THREADS") or "1")
         interval = 1000 * n / rate
         next_slot = now + (tid or 0) * interval / n
      end
      local slot = math.max(next_slot, now)
      next_slot = slot + interval
      return slot - now
   end
end

threads = {}
local counter = 0

function setup(thread)
   thread:set("tid", counter)
   counter = counter + 1
   table.insert(threads, thread)
end

-- wrk.headers plus the token and `extra`. Call from init(): wrk has set Host by then, and
-- HTTP/1.1 servers answer 400 to a request without it.
function bench_headers(extra)
   local headers = {}
   for k, v in pairs(wrk.headers) do
      headers[k] = v
   end
   local token = os.getenv("BENCH_TOKEN") or ""
   if token ~= "" then
      headers["Authorization"] = "Bearer " .. token
   end
   for k, v in pairs(extra or {}) do
      headers[k] = v
   end
   return headers
end

-- This thread's share of the lines of `path`: every n-th line starting at its own index.
function bench_ids(path)
   local n = tonumber(os.getenv("BENCH_THREADS") or "1")
   local ids, i = {}, 0
   local file = assert(io.open(path, "r"), "cannot read " .. path)
   for line in file:lines() do
      if line ~= "" then
         if i % n == tid then
            table.insert(ids, line)
         end
         i = i + 1
      end
   end
   file:close()
   assert(#ids > 0, "no ids for thread " .. tid .. " in " .. path)
   return ids
end

local function json_string(v)
   return '"' .. v:gsub('[%c"\\]', function(c)
      return string.format("\\u%04x", c:byte())
   end) .. '"'
end

local function json_value(v)
   if type(v) == "table" then
      local parts = {}
      for k, x in pairs(v) do
         table.insert(parts, json_string(tostring(k)) .. ": " .. json_value(x))
      end
      return "{" .. table.concat(parts, ", ") .. "}"
   elseif type(v) == "string" then
      return json_string(v)
   elseif type(v) == "boolean" then
      return tostring(v)
   elseif v == nil then
      return "null"
   else
      return string.format("%.10g", v)
   end
end

-- The first answers >= 400 of a thread (status and the head of the body), for the report:
-- a scenario whose answers are not its expected status says what they were.
failed_samples = {}
function bench_sample(status, body)
   if status >= 400 and #failed_samples < 3 then
      table.insert(failed_samples, status .. " " .. string.sub(body or "", 1, 300))
   end
end

function done(summary, latency, requests)
   local statuses, exhausted, samples = {}, 0, {}
   for _, t in ipairs(threads) do
      local s = t:get("statuses")
      if s then
         for code, count in pairs(s) do
            statuses[tostring(code)] = (statuses[tostring(code)] or 0) + count
         end
      end
      exhausted = exhausted + (t:get("reused") or 0)
      for _, sample in ipairs(t:get("failed_samples") or {}) do
         if #samples < 5 then
            samples[tostring(#samples + 1)] = sample
         end
      end
   end
   local seconds = summary.duration / 1e6
   local e = summary.errors
   local result = {
      requests = summary.requests,
      seconds = seconds,
      rps = summary.requests / seconds,
      bytes = summary.bytes,
      p50_ms = latency:percentile(50) / 1000,
      p90_ms = latency:percentile(90) / 1000,
      p99_ms = latency:percentile(99) / 1000,
      max_ms = latency.max / 1000,
      mean_ms = latency.mean / 1000,
      errors = { connect = e.connect, read = e.read, write = e.write,
                 status = e.status, timeout = e.timeout },
      statuses = statuses,
      ids_reused = exhausted,
      failed_samples = samples,
   }
   local out = os.getenv("BENCH_OUT")
   if out and out ~= "" then
      local file = assert(io.open(out, "w"))
      file:write(json_value(result), "\n")
      file:close()
   end
end
