-- POST /api/v1/applications: a new draft per request (BENCH_BODY), counting statuses.
dofile(os.getenv("BENCH_LUA_DIR") .. "/common.lua")

statuses = {}

function init(args)
   wrk.method = "POST"
   wrk.path = os.getenv("BENCH_PATH")
   wrk.body = os.getenv("BENCH_BODY")
   wrk.headers = bench_headers({ ["Content-Type"] = "application/json", Accept = "application/json" })
end

function response(status, headers, body)
   statuses[status] = (statuses[status] or 0) + 1
   bench_sample(status, body)
end
