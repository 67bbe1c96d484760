-- The soak's mix: mostly creates by a connected user (BENCH_TOKEN), lists by another user
-- (BENCH_LIST_TOKEN), and a login (BENCH_USERNAME / BENCH_PASSWORD) every BENCH_LOGIN_EVERY
-- requests. The path is fixed per request; the URL wrk was given only names the server.
local create_token = os.getenv("BENCH_TOKEN")
local list_token = os.getenv("BENCH_LIST_TOKEN")
local login_every = tonumber(os.getenv("BENCH_LOGIN_EVERY") or "100")
local login_body = string.format('{"username":"%s","password":"%s"}',
  os.getenv("BENCH_USERNAME"), os.getenv("BENCH_PASSWORD"))
local counter = 0

request = function()
  counter = counter + 1
  if counter % login_every == 0 then
    return wrk.format("POST", "/api/auth/login/", {["Content-Type"] = "application/json"}, login_body)
  elseif counter % 2 == 0 then
    return wrk.format("GET", "/api/events/?page_size=50", {["Authorization"] = "Bearer " .. list_token}, nil)
  end
  local day = (counter % 28) + 1
  local hour = counter % 23
  local body = string.format(
    '{"title":"Soak %d","category":1,"start_time":"2026-12-%02dT%02d:00:00Z","end_time":"2026-12-%02dT%02d:30:00Z"}',
    counter, day, hour, day, hour)
  return wrk.format("POST", "/api/events/",
    {["Content-Type"] = "application/json", ["Authorization"] = "Bearer " .. create_token}, body)
end
