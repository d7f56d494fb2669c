-- wrk script for bench/snapshot.sh: GET /get?key=K of a uniformly random key
-- among those bench/snapshot preloads (key i is "k" .. i zero-padded to keylen
-- characters).
--
-- Usage: wrk -t2 -c32 -d10s --latency -s get.lua URL -- keys=1000000 keylen=20

local nkeys, keylen = 1000000, 20
local path_fmt

function init(args)
  for _, arg in ipairs(args) do
    local name, value = arg:match("^(%w+)=(%d+)$")
    if name == "keys" then
      nkeys = tonumber(value)
    elseif name == "keylen" then
      keylen = tonumber(value)
    end
  end
  path_fmt = "/get?key=k%0" .. (keylen - 1) .. "d"
  -- Threads share os.time(); the table's address tells them apart.
  math.randomseed(os.time() + tonumber(tostring({}):match("0x(%x+)"), 16) % 100000)
end

function request()
  return wrk.format("GET", string.format(path_fmt, math.random(0, nkeys - 1)))
end
