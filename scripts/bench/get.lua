-- GET with a bearer token. BENCH_PATH is the path; a "{id}" in it is replaced, request by
-- request, by the ids of the file BENCH_IDS (each thread cycles through its own share).
-- Answers are counted by status.
dofile(os.getenv("BENCH_LUA_DIR") .. "/common.lua")

local ids, next_id, prefix, suffix

function init(args)
   local path = os.getenv("BENCH_PATH")
   wrk.method = "GET"
   wrk.headers = bench_headers({ Accept = "application/json" })
   local at = path:find("{id}", 1, true)
   if at then
      prefix, suffix = path:sub(1, at - 1), path:sub(at + 4)
      ids = bench_ids(os.getenv("BENCH_IDS"))
      next_id = 0
   else
      wrk.path = path
   end
end

-- Only defined when ids vary: without request() wrk sends its one prepared request.
if os.getenv("BENCH_IDS") and os.getenv("BENCH_IDS") ~= "" then
   function request()
      next_id = next_id % #ids + 1
      return wrk.format(nil, prefix .. ids[next_id] .. suffix)
   end
end

statuses = {}

function response(status, headers, body)
   statuses[status] = (statuses[status] or 0) + 1
   bench_sample(status, body)
end
