-- wrk script for bench/intake.py: POST pre-signed webhooks (WhatsApp, SMS), closed loop.
-- wrk -t1 -cN -dS -s intake_signed_wrk.lua URL -- BODIES_FILE SIGNATURE_HEADER CONTENT_TYPE
-- BODIES_FILE has one "signature<TAB>body" line per webhook (distinct message ids), signed by
-- the driver: wrk's Lua has no HMAC. Prints one JSON line like intake_wrk.lua.

local bodies = {}
local signatures = {}
local counter = 0
local header = nil

function init(args)
  wrk.method = "POST"
  header = args[2]
  wrk.headers["Content-Type"] = args[3]
  for line in io.lines(args[1]) do
    local tab = string.find(line, "\t", 1, true)
    signatures[#signatures + 1] = string.sub(line, 1, tab - 1)
    bodies[#bodies + 1] = string.sub(line, tab + 1)
  end
end

function request()
  counter = counter % #bodies + 1
  local headers = {[header] = signatures[counter]}
  return wrk.format(nil, nil, headers, bodies[counter])
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '{"requests":%d,"duration_us":%d,"errors":%d,"non_2xx":%d,"p50_us":%d,"p99_us":%d}\n',
    summary.requests, summary.duration, e.connect + e.read + e.write + e.timeout, e.status,
    latency:percentile(50), latency:percentile(99)))
end
