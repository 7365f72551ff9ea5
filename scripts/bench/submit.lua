-- POST /api/v1/applications/{id}/submit with If-Match: "1", each id of BENCH_IDS (drafts at
-- version 1) once; ids are split between the threads. Should the run outlast the ids, it
-- starts over (those answers are 409s) and done() reports how many were sent again.
dofile(os.getenv("BENCH_LUA_DIR") .. "/common.lua")

statuses = {}
reused = 0
local ids, next_id, headers

function init(args)
   ids = bench_ids(os.getenv("BENCH_IDS"))
   next_id = 0
   headers = bench_headers({ ["If-Match"] = '"1"', Accept = "application/json" })
end

function request()
   next_id = next_id + 1
   if next_id > #ids then
      reused = reused + 1
   end
   local id = ids[(next_id - 1) % #ids + 1]
   return wrk.format("POST", "/api/v1/applications/" .. id .. "/submit", headers)
end

function response(status, headers, body)
   statuses[status] = (statuses[status] or 0) + 1
end
