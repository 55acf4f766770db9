-- wrk script for POST /verify-otp: a six-digit guess for a number that has no code, so the
-- reply is 400 {"valid":false,"reason":"not_found"} after one store lookup (wrong guesses on a
-- real code would lock the number after ten; this keeps every request on one path).
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
  local phone = string.format("+919%s%d%07d", series, tid % 10, n % 10000000)
  return wrk.format("POST", nil, { ["Content-Type"] = "application/json" }, '{"phone":"' .. phone .. '","otp":"123456"}')
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
