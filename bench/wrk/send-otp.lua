-- wrk script for POST /send-otp: every request asks for a number never asked for before in
-- this run (a repeated number would be refused by the 30 s cooldown, not measured).
-- BENCH_SERIES (one digit) keeps the runs against one devserver apart.
local threads = {}
local next_id = 0
function setup(thread)
  thread:set("tid", next_id)
  next_id = next_id + 1
  table.insert(threads, thread)
end

local series = os.getenv("BENCH_SERIES") or "1"
local n = 0
s2, s4, s429, s5 = 0, 0, 0, 0

request = function()
  n = n + 1
  -- +91 9 <series> <thread> <7 digits>: a valid Indian mobile number
  local phone = string.format("+919%s%d%07d", series, tid % 10, n % 10000000)
  return wrk.format("POST", nil, { ["Content-Type"] = "application/json" }, '{"phone":"' .. phone .. '"}')
end

response = function(status, headers, body)
  if status >= 500 then s5 = s5 + 1
  elseif status == 429 then s429 = s429 + 1
  elseif status >= 400 then s4 = s4 + 1
  elseif status >= 200 and status < 300 then s2 = s2 + 1 end
end

function done(summary, latency, requests)
  local a, b, c, d = 0, 0, 0, 0
  for _, t in ipairs(threads) do
    a = a + t:get("s2"); b = b + t:get("s4"); c = c + t:get("s429"); d = d + t:get("s5")
  end
  io.write(string.format("BENCH statuses 2xx=%d 4xx=%d 429=%d 5xx=%d\n", a, b, c, d))
end
