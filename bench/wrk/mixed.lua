-- The mixed read load: cycles through a file of distinct paths (one a line), so that each
-- URL comes back only after all the others: wrk ... -- PATHS_FILE
dofile("bench/wrk/report.lua")

local paths = {}
local next_path = 0

init = function(args)
  for line in io.lines(args[1]) do
    if line ~= "" then paths[#paths + 1] = line end
  end
end

request = function()
  next_path = next_path % #paths + 1
  return wrk.format("GET", paths[next_path])
end
