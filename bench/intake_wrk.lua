-- wrk script for bench/intake.py: POST distinct Telegram updates to the webhook, closed loop.
-- wrk -t1 -cN -dS -s intake_wrk.lua URL -- SECRET FIRST_UPDATE_ID
-- Prints one JSON line with the counts and latency percentiles (microseconds).

local counter = 0
local first = 0
local template = '{"update_id":%d,"message":{"message_id":%d,"date":1700000000,' ..
  '"chat":{"id":%d,"type":"private","first_name":"Bench"},' ..
  '"from":{"id":%d,"is_bot":false,"first_name":"Bench","language_code":"en"},"text":"x"}}'

function init(args)
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
  wrk.headers["X-Telegram-Bot-Api-Secret-Token"] = args[1]
  first = tonumber(args[2])
end

function request()
  counter = counter + 1
  local chat = 20000 + counter % 1000
  local body = string.format(template, first + counter, counter, chat, chat)
  return wrk.format(nil, nil, nil, body)
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '{"requests":%d,"duration_us":%d,"errors":%d,"non_2xx":%d,"p50_us":%d,"p99_us":%d}\n',
    summary.requests, summary.duration, e.connect + e.read + e.write + e.timeout, e.status,
    latency:percentile(50), latency:percentile(99)))
end
