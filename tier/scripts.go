package tier

import "github.com/redis/rueidis"

// Every write runs as one Lua script: the change and the PUBLISH that tells
// the other instances about it happen atomically, in one round trip, on the node
// that owns the key (scripts touch one key, so they run on a Redis Cluster too).
// Each returns what the writer needs to update its own local copy: the value
// and PEXPIRETIME (ms; -1 = no expiry, -2 = no key).
//
// Common arguments: KEYS[1] is the prefixed key; the last two ARGV are the
// invalidation channel and message. An expiry "mode" is "keep" (keep the
// current one), "none" (remove it), or absolute Unix milliseconds.

// luaExpire is shared by the scripts: apply an expiry mode to a key that exists.
const luaExpire = `
local function expire(k, mode)
  if mode == 'keep' then return end
  if mode == 'none' then redis.call('PERSIST', k) return end
  redis.call('PEXPIREAT', k, mode)
end
`

// setScript is SET with a condition ("always", "nx" or "xx") that also returns
// the old value: {old|false, stored 0/1, value|false, pexpiretime}.
var setScript = rueidis.NewLuaScript(luaExpire + `
local k, value, mode, cond = KEYS[1], ARGV[1], ARGV[2], ARGV[3]
local old = redis.call('GET', k)
if (cond == 'nx' and old) or (cond == 'xx' and not old) then
  return {old, 0, old, redis.call('PEXPIRETIME', k)}
end
if mode == 'keep' then
  redis.call('SET', k, value, 'KEEPTTL')
elseif mode == 'none' then
  redis.call('SET', k, value)
else
  redis.call('SET', k, value, 'PXAT', mode)
end
redis.call('PUBLISH', ARGV[4], ARGV[5])
return {old, 1, redis.call('GET', k), redis.call('PEXPIRETIME', k)}
`)

// casScript stores ARGV[2] if the key is absent or holds exactly ARGV[1]:
// {swapped 0/1, value|false, pexpiretime}.
var casScript = rueidis.NewLuaScript(luaExpire + `
local k = KEYS[1]
local old = redis.call('GET', k)
if old and old ~= ARGV[1] then
  return {0, old, redis.call('PEXPIRETIME', k)}
end
redis.call('SET', k, ARGV[2], 'KEEPTTL')
expire(k, ARGV[3])
redis.call('PUBLISH', ARGV[4], ARGV[5])
return {1, redis.call('GET', k), redis.call('PEXPIRETIME', k)}
`)

// incrScript is INCRBY with an expiry mode: {value|false, pexpiretime}, or an
// error reply "NOTINT" or "OVERFLOW". The sum is read back with GET because Lua
// numbers are doubles and would round a 64-bit result.
var incrScript = rueidis.NewLuaScript(luaExpire + `
local k = KEYS[1]
local ok, err = pcall(redis.call, 'INCRBY', k, ARGV[1])
if not ok then
  local msg = err.err or tostring(err)
  if string.find(msg, 'overflow', 1, true) then return redis.error_reply('OVERFLOW') end
  return redis.error_reply('NOTINT')
end
expire(k, ARGV[2])
redis.call('PUBLISH', ARGV[3], ARGV[4])
return {redis.call('GET', k), redis.call('PEXPIRETIME', k)}
`)

// appendScript appends (ARGV[2] == "1": prepends) ARGV[1], refusing a result
// of more than ARGV[3] code points (0 = no limit) with the error reply
// "TOOLONG": {value|false, pexpiretime}. Code points are counted as the bytes
// that do not continue a UTF-8 sequence, which is Go's count for valid UTF-8.
var appendScript = rueidis.NewLuaScript(luaExpire + `
local k = KEYS[1]
local old = redis.call('GET', k) or ''
local value
if ARGV[2] == '1' then value = ARGV[1] .. old else value = old .. ARGV[1] end
local limit = tonumber(ARGV[3])
if limit > 0 and #value > limit then
  local _, runes = string.gsub(value, '[^\128-\191]', '')
  if runes > limit then return redis.error_reply('TOOLONG') end
end
redis.call('SET', k, value, 'KEEPTTL')
expire(k, ARGV[4])
redis.call('PUBLISH', ARGV[5], ARGV[6])
return {redis.call('GET', k), redis.call('PEXPIRETIME', k)}
`)

// deleteScript is DEL (ARGV[1] == "0") or GETDEL (ARGV[1] == "1"), publishing
// only when a key went: {existed 0/1, old|false}.
var deleteScript = rueidis.NewLuaScript(`
local k = KEYS[1]
local old = false
if ARGV[1] == '1' then old = redis.call('GET', k) end
if redis.call('DEL', k) == 0 then return {0, false} end
redis.call('PUBLISH', ARGV[2], ARGV[3])
return {1, old}
`)

// expireScript changes the expiry of an existing key if the condition ARGV[1]
// allows it: "always", or EXPIRE's options as one word ("nx", "xx", "gt",
// "lt", "xxgt", "xxlt"), judged as Redis judges them (no expiry is infinitely
// late; "none" as the new expiry compares as 0, as in cache.ExpireCondition):
// {existed 0/1, changed 0/1}.
var expireScript = rueidis.NewLuaScript(luaExpire + `
local k, cond, mode = KEYS[1], ARGV[1], ARGV[2]
local current = redis.call('PEXPIRETIME', k)
if current == -2 then return {0, 0} end
local function has(opt) return string.find(cond, opt, 1, true) ~= nil end
local target = tonumber(mode) or 0
if (has('nx') and current ~= -1)
  or (has('xx') and current == -1)
  or (has('gt') and (current == -1 or target <= current))
  or (has('lt') and current ~= -1 and target >= current) then
  return {1, 0}
end
expire(k, mode)
redis.call('PUBLISH', ARGV[3], ARGV[4])
return {1, 1}
`)
