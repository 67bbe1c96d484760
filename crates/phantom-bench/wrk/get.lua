-- GET with a bearer token from BENCH_TOKEN (the path is the URL wrk was given).
wrk.headers["Authorization"] = "Bearer " .. os.getenv("BENCH_TOKEN")
