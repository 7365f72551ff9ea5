-- Writes from a plan: each line of BENCH_PLAN is "group<TAB>token<TAB>path", token being a
-- line number (from 0) of BENCH_TOKENS, one bearer token a line. A thread takes the lines
-- whose group modulo BENCH_THREADS is its own, in file order, and sends each once as
-- BENCH_METHOD (default POST) with BENCH_BODY and, if set, If-Match: BENCH_IF_MATCH.
--
-- Lines that must be sent one after another (a signer's drafts, whose codes are redeemed
-- newest first) share a group; run such a plan with as many threads as connections, so that
-- each thread has one connection and one request in flight.
--
-- BENCH_CYCLE=1: start over when the lines run out (repeatable writes: create, comment);
-- otherwise a run that outlasts its lines starts over too, counting every line sent again
-- in `reused` (their answers are refusals, which fail the scenario's status check).
dofile(os.getenv("BENCH_LUA_DIR") .. "/common.lua")

statuses = {}
reused = 0
local lines, tokens, next_line, cycle, method, body, exhausted

local function read_lines(path)
   local out = {}
   local file = assert(io.open(path, "r"), "cannot read " .. path)
   for line in file:lines() do
      if line ~= "" then
         table.insert(out, line)
      end
   end
   file:close()
   return out
end

-- wrk calls setup() in its main Lua state for each thread, before that thread's init()
-- and while the threads made before it already send. The plan is read and split there
-- once, and each thread is handed its own lines: read whole by every thread's init(), a
-- 60,000-line plan took wrk two seconds of a core at 32 threads, so the first seconds of
-- a run measured the load generator as much as the server.
local common_setup = setup
local shares

function setup(thread)
   common_setup(thread)
   local n = tonumber(os.getenv("BENCH_THREADS") or "1")
   if not shares then
      shares = {}
      for t = 0, n - 1 do
         shares[t] = {}
      end
      for _, line in ipairs(read_lines(os.getenv("BENCH_PLAN"))) do
         local group, rest = line:match("^(%d+)\t(.+)$")
         assert(group, "bad plan line: " .. line)
         table.insert(shares[tonumber(group) % n], rest)
      end
   end
   thread:set("share", shares[thread:get("tid")])
end

function init(args)
   local all_tokens = read_lines(os.getenv("BENCH_TOKENS"))
   local extra = { Accept = "application/json" }
   body = os.getenv("BENCH_BODY") or ""
   if body ~= "" then
      extra["Content-Type"] = "application/json"
   else
      body = nil
   end
   local if_match = os.getenv("BENCH_IF_MATCH") or ""
   if if_match ~= "" then
      extra["If-Match"] = if_match
   end
   lines, tokens = {}, {}
   local headers_of = {}
   for _, line in ipairs(share) do
      local token, path = line:match("^(%d+)\t(.+)$")
      assert(token, "bad plan line: " .. line)
      local t = tonumber(token)
      if not headers_of[t] then
         local h = {}
         for k, v in pairs(extra) do
            h[k] = v
         end
         h["Authorization"] = "Bearer " .. assert(all_tokens[t + 1], "no token " .. t)
         headers_of[t] = h
      end
      table.insert(lines, { path = path, headers = headers_of[t] })
   end
   if #lines == 0 then
      -- Every line was used by earlier runs: send what answers 404, all counted as sent again,
      -- so that the scenario fails its status check instead of stopping the benchmark.
      table.insert(lines, { path = "/api/v1/applications/00000000-0000-0000-0000-000000000000", headers = extra })
      exhausted = true
   end
   -- wrk's own headers (Host) go with every request.
   headers_of[-1] = extra
   for _, h in pairs(headers_of) do
      for k, v in pairs(wrk.headers) do
         if h[k] == nil then
            h[k] = v
         end
      end
   end
   next_line = exhausted and 1 or 0
   cycle = not exhausted and os.getenv("BENCH_CYCLE") == "1"
   method = os.getenv("BENCH_METHOD") or "POST"
end

-- wrk calls request() once in thread 0's state before the run, to check the request it
-- makes, and never sends that one: it gets the first line without using it up.
local checked = false

function request()
   if tid == 0 and not checked then
      checked = true
      return wrk.format(method, lines[1].path, lines[1].headers, body)
   end
   next_line = next_line + 1
   if next_line > #lines and not cycle then
      reused = reused + 1
   end
   local line = lines[(next_line - 1) % #lines + 1]
   return wrk.format(method, line.path, line.headers, body)
end

function response(status, headers, body)
   statuses[status] = (statuses[status] or 0) + 1
   bench_sample(status, body)
end
