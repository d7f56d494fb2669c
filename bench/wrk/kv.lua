-- wrk script for warmkv's load scenarios (bench/http.sh drives it).
--
-- Usage: wrk -t2 -c64 -d10s -s kv.lua http://127.0.0.1:PORT -- mode=get [name=value ...]
--   mode=get     GET /get?key=K of a preloaded key (chosen per request)
--   mode=put     POST /put of a NEW key every request (never repeats in a run)
--   mode=mix     alternately a GET of a preloaded key and a POST /put (see mixput)
--   keys=100000  size of the preloaded key set (must match bench/preload -keys)
--   keylen=20    key length (must match bench/preload -key-len)
--   vallen=100   length of PUT values
--   dist=uniform key choice for GETs/updates: uniform, or zipf (key 0 hottest)
--   s=1.01       zipf exponent
--   mixput=new   mix PUTs insert new keys (new) or overwrite preloaded ones (update)
--
-- Preloaded key i is "k" .. i zero-padded to keylen chars, the same formula as
-- bench/preload/main.go.
--
-- wrk and the server share 2 cores, so every cycle spent here is taken from
-- the server: requests are rendered in init, and request() only picks one
-- (GET) or splices a key between two prebuilt halves (PUT).

local next_thread_id = 0

-- setup runs once per thread in wrk's main Lua state; it hands each thread a
-- distinct id so PUT keys from different threads can never collide.
function setup(thread)
  next_thread_id = next_thread_id + 1
  thread:set("thread_id", next_thread_id)
end

local mode, nkeys, mixput
local zipf_a, zipf_top
local get_requests = {} -- [i+1] = rendered GET of preloaded key i
local keys = {}         -- [i+1] = preloaded key i
local put_head, put_tail
local new_key_fmt, tid
local counter = 0
local pick

-- pick returns a 1-based index into keys/get_requests.
local function pick_uniform()
  return math.random(nkeys)
end

-- pick_zipf inverts the CDF of a continuous power law on [1, nkeys+1): a cheap
-- O(1) approximation of a Zipf distribution.
local function pick_zipf()
  local u = math.random()
  local x
  if zipf_a == 0 then
    x = zipf_top ^ u
  else
    x = (1 + u * (zipf_top ^ zipf_a - 1)) ^ (1 / zipf_a)
  end
  local i = math.floor(x)
  if i < 1 then i = 1 elseif i > nkeys then i = nkeys end
  return i
end

function init(args)
  local opt = {}
  for _, a in ipairs(args) do
    local k, v = a:match("^([%w_]+)=(.*)$")
    if not k then error("kv.lua: argument not of the form name=value: " .. a) end
    opt[k] = v
  end
  mode = opt.mode or "get"
  nkeys = tonumber(opt.keys or "100000")
  local keylen = tonumber(opt.keylen or "20")
  local vallen = tonumber(opt.vallen or "100")
  local dist = opt.dist or "uniform"
  mixput = opt.mixput or "new"
  if mode ~= "get" and mode ~= "put" and mode ~= "mix" then error("kv.lua: unknown mode " .. mode) end
  if dist ~= "uniform" and dist ~= "zipf" then error("kv.lua: unknown dist " .. dist) end
  if mixput ~= "new" and mixput ~= "update" then error("kv.lua: unknown mixput " .. mixput) end
  if keylen < 4 then error("kv.lua: keylen must be >= 4") end

  -- thread_id is nil only if a thread was not created through setup.
  tid = thread_id or 0
  math.randomseed(os.time() * 1000 + tid * 7919)

  if mode ~= "put" then
    local key_fmt = "k%0" .. (keylen - 1) .. "d"
    for i = 1, nkeys do
      local key = string.format(key_fmt, i - 1)
      keys[i] = key
      get_requests[i] = wrk.format("GET", "/get?key=" .. key)
    end
  end

  -- New keys: a mode letter, the thread id, then a per-thread counter, padded
  -- to keylen so they are the same size as preloaded keys (which lets every
  -- PUT share one prebuilt head with a fixed Content-Length).
  new_key_fmt = (mode == "put" and "p" or "m") .. "%02d%0" .. (keylen - 3) .. "d"

  local alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
  local chars = {}
  for i = 1, vallen do
    local j = math.random(1, #alphabet)
    chars[i] = alphabet:sub(j, j)
  end
  local placeholder = string.rep("\1", keylen)
  local put_request = wrk.format("POST", "/put", { ["Content-Type"] = "application/json" },
    '{"key":"' .. placeholder .. '","value":"' .. table.concat(chars) .. '"}')
  local at = put_request:find(placeholder, 1, true)
  put_head = put_request:sub(1, at - 1)
  put_tail = put_request:sub(at + keylen)

  if dist == "zipf" then
    zipf_a = 1 - tonumber(opt.s or "1.01")
    zipf_top = nkeys + 1
    pick = pick_zipf
  else
    pick = pick_uniform
  end
end

local function put_new()
  counter = counter + 1
  return put_head .. string.format(new_key_fmt, tid, counter) .. put_tail
end

function request()
  if mode == "get" then
    return get_requests[pick()]
  elseif mode == "put" then
    return put_new()
  end
  -- mix: strict alternation gives exactly 50/50 per thread.
  counter = counter + 1
  if counter % 2 == 0 then
    return get_requests[pick()]
  end
  if mixput == "update" then
    return put_head .. keys[pick()] .. put_tail
  end
  return put_head .. string.format(new_key_fmt, tid, counter) .. put_tail
end
