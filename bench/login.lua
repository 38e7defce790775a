-- wrk script: POST a form login (real password check, signed token in the answer).
-- wrk reports any answer other than 2xx/3xx as "Non-2xx or 3xx responses".
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.body = os.getenv("BENCH_BODY") or "username=user%40example.com&password=secretpassword"
