-- POST /api/events/ with a bearer token from BENCH_TOKEN; titles and hours vary per request.
local token = os.getenv("BENCH_TOKEN")
local counter = 0
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. token

request = function()
  counter = counter + 1
  local day = (counter % 28) + 1
  local hour = counter % 23
  local body = string.format(
    '{"title":"Bench %d","category":1,"start_time":"2026-12-%02dT%02d:00:00Z","end_time":"2026-12-%02dT%02d:30:00Z"}',
    counter, day, hour, day, hour)
  return wrk.format(nil, "/api/events/", nil, body)
end
