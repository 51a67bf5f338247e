-- Stance POSTs on a few hot claims from random sources: wrk ... -- KEY CLAIM_IDS SOURCES
dofile("bench/wrk/report.lua")

local key, claims, sources
local threads = 0

setup = function(thread)
  threads = threads + 1
  thread:set("thread_number", threads)
end

init = function(args)
  key = args[1]
  claims = {}
  for id in string.gmatch(args[2], "%d+") do claims[#claims + 1] = id end
  sources = tonumber(args[3])
  math.randomseed(os.time() * 100 + thread_number)
end

request = function()
  local claim = claims[math.random(#claims)]
  local kind = (math.random() < 0.7) and "asserts" or "denies"
  local body = string.format('{"source_id":"%d","stance":"%s"}', math.random(sources), kind)
  return wrk.format("POST", "/claims/" .. claim .. "/stances",
    {["Content-Type"] = "application/json", ["Authorization"] = "Bearer " .. key}, body)
end
